//! Many clinics on a pool of Docker engines: which sites are due (`due`),
//! where each drill goes (`place`), and the runner that drives them (`runner`)
//! with at most so many at once, moving a drill whose engine stopped
//! answering to another engine. Each site's drill is the same as `run`'s.

pub mod due;
pub mod engines;
pub mod place;
pub mod runner;
