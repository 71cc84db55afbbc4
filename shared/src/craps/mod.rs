//! The rules of craps: bets, the come-out / point state machine, exact
//! house edges, and the table that settles real chips.

pub mod bet;
pub mod cover;
pub mod edge;
pub mod phase;
pub mod rules;
pub mod table;

pub use bet::{resolve, BetKind, Outcome};
pub use cover::{Change, Returned, Uncovered};
pub use edge::{house_edge, house_edge_percent, PUBLISHED_EDGES};
pub use phase::Phase;
pub use rules::{Commission, CommissionTiming, OddsLimit, TableRules};
pub use table::{
    BetResult, Checked, PlayerId, Seat, Settlement, Step, Table, TableError, SEAT_BURST,
    SEAT_CREDIT_MAX, SEAT_EVERY,
};
