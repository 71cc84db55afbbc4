//! The come-out / point state machine.

use crate::dice::Roll;

/// Where the game stands between rolls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// No point: the next roll is a come-out roll.
    ComeOut,
    /// A point (4, 5, 6, 8, 9 or 10) is on.
    Point(u8),
}

/// Whether `n` is a point number (4, 5, 6, 8, 9, 10).
pub fn is_point_number(n: u8) -> bool {
    matches!(n, 4 | 5 | 6 | 8 | 9 | 10)
}

impl Phase {
    /// The phase after `roll`: a come-out point number sets the point; the
    /// point or a seven ends it.
    pub fn after(self, roll: Roll) -> Phase {
        let total = roll.total();
        match self {
            Phase::ComeOut if is_point_number(total) => Phase::Point(total),
            Phase::ComeOut => Phase::ComeOut,
            Phase::Point(point) if total == point || total == 7 => Phase::ComeOut,
            Phase::Point(point) => Phase::Point(point),
        }
    }

    /// Whether `roll` in this phase is a seven-out (the shooter loses the dice).
    pub fn is_seven_out(self, roll: Roll) -> bool {
        matches!(self, Phase::Point(_)) && roll.total() == 7
    }

    /// The point, if one is on.
    pub fn point(self) -> Option<u8> {
        match self {
            Phase::ComeOut => None,
            Phase::Point(p) => Some(p),
        }
    }

    /// One byte: 0 for come-out, else the point.
    pub fn to_byte(self) -> u8 {
        self.point().unwrap_or(0)
    }

    /// The phase [`Phase::to_byte`] wrote, if the byte names one.
    pub fn from_byte(byte: u8) -> Option<Phase> {
        match byte {
            0 => Some(Phase::ComeOut),
            p if is_point_number(p) => Some(Phase::Point(p)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roll(a: u8, b: u8) -> Roll {
        Roll::new(a, b).unwrap()
    }

    #[test]
    fn come_out_sets_and_the_point_or_seven_clears() {
        assert_eq!(Phase::ComeOut.after(roll(3, 3)), Phase::Point(6));
        assert_eq!(Phase::ComeOut.after(roll(3, 4)), Phase::ComeOut);
        assert_eq!(Phase::ComeOut.after(roll(6, 6)), Phase::ComeOut);
        assert_eq!(Phase::Point(6).after(roll(2, 4)), Phase::ComeOut);
        assert_eq!(Phase::Point(6).after(roll(2, 5)), Phase::ComeOut);
        assert_eq!(Phase::Point(6).after(roll(2, 6)), Phase::Point(6));
        assert!(Phase::Point(6).is_seven_out(roll(2, 5)));
        assert!(!Phase::ComeOut.is_seven_out(roll(2, 5)));
    }

    #[test]
    fn a_phase_reads_back_from_its_byte() {
        for phase in [Phase::ComeOut, Phase::Point(4), Phase::Point(10)] {
            assert_eq!(Phase::from_byte(phase.to_byte()), Some(phase));
        }
        assert_eq!(Phase::from_byte(7), None);
        assert_eq!(Phase::from_byte(3), None);
    }
}
