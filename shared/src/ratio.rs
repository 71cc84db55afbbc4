//! Exact rational numbers for payouts and house-edge arithmetic.
//!
//! Payouts such as 7:6 or 9:5 and probabilities such as 5/36 must be exact:
//! a float would make "the edge is 1.515%" a rounding accident. Every
//! operation is checked and returns `None` on overflow instead of wrapping.

use core::cmp::Ordering;
use core::fmt;

/// A fraction `num / den` in lowest terms with `den > 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ratio {
    num: i128,
    den: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ratio {
    /// Zero.
    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };
    /// One.
    pub const ONE: Ratio = Ratio { num: 1, den: 1 };

    /// `num / den`, reduced. `None` when `den` is zero.
    pub fn new(num: i128, den: i128) -> Option<Self> {
        if den == 0 {
            return None;
        }
        let g = gcd(num, den).max(1);
        let sign = if den < 0 { -1 } else { 1 };
        Some(Self {
            num: sign * num / g,
            den: sign * den / g,
        })
    }

    /// A whole number.
    pub const fn int(n: i128) -> Self {
        Self { num: n, den: 1 }
    }

    /// The numerator (in lowest terms; carries the sign).
    pub fn numer(self) -> i128 {
        self.num
    }

    /// The denominator (in lowest terms; always positive).
    pub fn denom(self) -> i128 {
        self.den
    }

    /// `self + other`, `None` on overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        let g = gcd(self.den, other.den);
        let l = (self.den / g).checked_mul(other.den)?;
        let a = self.num.checked_mul(l / self.den)?;
        let b = other.num.checked_mul(l / other.den)?;
        Self::new(a.checked_add(b)?, l)
    }

    /// `self - other`, `None` on overflow.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.checked_add(Self {
            num: other.num.checked_neg()?,
            den: other.den,
        })
    }

    /// `self * other`, `None` on overflow.
    pub fn checked_mul(self, other: Self) -> Option<Self> {
        let g1 = gcd(self.num, other.den).max(1);
        let g2 = gcd(other.num, self.den).max(1);
        let num = (self.num / g1).checked_mul(other.num / g2)?;
        let den = (self.den / g2).checked_mul(other.den / g1)?;
        Self::new(num, den)
    }

    /// `self / other`, `None` on overflow or division by zero.
    pub fn checked_div(self, other: Self) -> Option<Self> {
        if other.num == 0 {
            return None;
        }
        self.checked_mul(Self::new(other.den, other.num)?)
    }

    /// Whether this is zero.
    pub fn is_zero(self) -> bool {
        self.num == 0
    }

    /// The nearest `f64`, for display only.
    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }
}

impl PartialOrd for Ratio {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ratio {
    fn cmp(&self, other: &Self) -> Ordering {
        // Denominators are positive, so cross-multiplying keeps the order.
        // Values here are small (payouts, probabilities); saturate rather
        // than wrap if they ever are not.
        let a = self.num.saturating_mul(other.den);
        let b = other.num.saturating_mul(self.den);
        a.cmp(&b)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.den == 1 {
            write!(f, "{}", self.num)
        } else {
            write!(f, "{}/{}", self.num, self.den)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(n: i128, d: i128) -> Ratio {
        Ratio::new(n, d).unwrap()
    }

    #[test]
    fn fractions_are_kept_in_lowest_terms() {
        assert_eq!(r(6, 36), r(1, 6));
        assert_eq!(r(3, -9), r(-1, 3));
        assert_eq!(r(-1, 3).denom(), 3);
        assert!(Ratio::new(1, 0).is_none());
    }

    #[test]
    fn arithmetic_is_exact() {
        assert_eq!(r(1, 6).checked_add(r(1, 3)), Some(r(1, 2)));
        assert_eq!(r(1, 2).checked_sub(r(2, 3)), Some(r(-1, 6)));
        assert_eq!(r(7, 6).checked_mul(r(5, 11)), Some(r(35, 66)));
        assert_eq!(r(1, 2).checked_div(r(1, 4)), Some(Ratio::int(2)));
        assert_eq!(r(1, 2).checked_div(Ratio::ZERO), None);
        assert!(r(1, 3) < r(1, 2));
    }

    #[test]
    fn overflow_is_reported_not_wrapped() {
        let big = Ratio::int(i128::MAX / 2);
        assert_eq!(big.checked_mul(Ratio::int(3)), None);
        assert_eq!(big.checked_add(big).map(|x| x > big), Some(true));
        assert_eq!(Ratio::int(i128::MAX).checked_add(Ratio::ONE), None);
    }
}
