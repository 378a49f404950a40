//! End-to-end tests of the real `verbatim` binary, one test binary with a module per subject
//! (so helpers are compiled once and moto starts once): the HTTP flow, email, the transparency
//! log, the last-minute rush, crashes and failing storage.

mod console;
mod crash;
mod email;
mod faults;
mod flow;
mod helpers;
mod requests;
mod rush;
mod sequencers;
mod transparency;
mod witness;
