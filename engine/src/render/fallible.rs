//! Row-at-a-time work that can fail, as one operator with two outputs.
//!
//! Map, Filter and key extraction evaluate expressions that may raise an
//! [`EvalError`]; the error must go to the errs collection and the row
//! must not (Materialize's design). Splitting one stream of `Result`s into
//! two with two `flat_map`s would clone every row for the error path only
//! to drop it (a timely stream read twice is copied per reader). Here each
//! result goes straight to its own output.
//!
//! Work that cannot fail (see `ScalarExpr::can_fail`) asks for no error
//! output: its view then may keep no error arrangement, which saves every
//! timestamp the work of an arrangement and the operators feeding it. An
//! error there anyway is a bug in that analysis; it is reported on stderr
//! rather than lost without a word.

use super::Errs;
use crate::expr::EvalError;
use crate::{Diff, Timestamp};
use differential_dataflow::{AsCollection, VecCollection};
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::builder_rc::OperatorBuilder;
use timely::dataflow::operators::generic::OutputBuilder;
use timely::progress::operate::FrontierInterest;

/// Applies `logic` to each update's data; every `Ok` it yields is an update
/// of the first collection and every `Err` one of the second (`None` when
/// `can_fail` is false), with the update's time and diff.
pub fn flat_map_fallible<'s, D, D2, I, L>(input: VecCollection<'s, Timestamp, D, Diff>, name: &str, can_fail: bool, mut logic: L) -> (VecCollection<'s, Timestamp, D2, Diff>, Option<Errs<'s>>)
where
    D: differential_dataflow::Data,
    D2: differential_dataflow::Data,
    I: IntoIterator<Item = Result<D2, EvalError>>,
    L: FnMut(D) -> I + 'static,
{
    let mut builder = OperatorBuilder::new(name.to_owned(), input.inner.scope());
    let mut updates = builder.new_input(input.inner, Pipeline);
    // Row at a time: the frontier alone never gives it work, so progress
    // need not schedule it (timely's own `map` says the same).
    builder.set_notify_for(0, FrontierInterest::Never);
    let (oks, ok_stream) = builder.new_output();
    let mut oks = OutputBuilder::from(oks);
    let (errs, err_stream) = builder.new_output();
    let mut errs = OutputBuilder::from(errs);
    let name = name.to_owned();
    builder.build(move |_capabilities| {
        move |_frontiers| {
            let mut oks = oks.activate();
            let mut errs = errs.activate();
            updates.for_each(|cap, data| {
                let mut ok_session = oks.session(&cap);
                let mut err_session = errs.session(&cap);
                for (d, t, r) in data.drain(..) {
                    for result in logic(d) {
                        match result {
                            Ok(x) => ok_session.give((x, t, r)),
                            Err(e) if can_fail => err_session.give((e, t, r)),
                            Err(e) => report_unexpected(&name, &e),
                        }
                    }
                }
            });
        }
    });
    (ok_stream.as_collection(), can_fail.then(|| err_stream.as_collection()))
}

/// Reports an error raised by work judged unable to fail (see
/// `ScalarExpr::can_fail`): a bug in that judgement, told on stderr rather
/// than lost without a word.
pub(super) fn report_unexpected(what: &str, e: &EvalError) {
    eprintln!("eddy: {} raised an error its expressions were judged unable to raise: {} ({}). This is a bug in eddy: please report it with the view's definition.", what, e.message, e.code);
}
