//! Border questions to an issuer on another node, asked together: while calls to the issuer are
//! in flight, the questions about its certificates that arrive wait, and go out in one call
//! (`GET .../statements?numbers=`) as soon as one returns. A border officer asking alone is
//! asked for at once, with the one-certificate call; under load one assertion, one verification
//! of it at the issuer and one HTTP exchange serve many questions, and the issuer is spared as
//! much as the asking node.
//!
//! Each question is answered with the raw statement the issuer gave for its number; the asker
//! verifies it with the keys its own administration pinned (`remote`), so questions of
//! different administrations never share a call (a lane is one registration's).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tokio::sync::oneshot;

use super::client::{CALL_TIMEOUT, CallError, read};
use super::protocol::{MAX_NUMBERS_PER_CALL, StatementAnswer, StatementsByNumberAnswer};
use super::remote::{answer_refused, call_peer};
use crate::app::AppState;
use crate::store::peers::Peer;

/// Calls to one issuer in flight at once for one registration; the questions that arrive
/// meanwhile wait for the next call. An issuer answers a call on one thread, and the asker
/// verifies what came back while the next calls are out: with two in flight the two nodes'
/// turns alternated and a fifth of the CPU of a machine hosting both stood idle; with four the
/// work overlaps (federated recognition asked live went from 8.7k to 10.4k answers a second in
/// the bench's quick run), and a call still carries many questions under load.
const IN_FLIGHT: usize = 4;

/// How long a peer that did not know the call for several numbers is asked one number at a
/// time before it is tried again (it may have been upgraded).
const SINGLY_FOR: Duration = Duration::from_secs(300);

/// The answer to one question: the issuer's statement of the number, unverified, or `None`
/// when the issuer has no such certificate.
type Answered = Result<Option<String>, CallError>;

struct Question {
    number: String,
    /// The registration as the asker read it; a call uses its newest question's.
    registration: Arc<Peer>,
    answer: oneshot::Sender<Answered>,
}

#[derive(Default)]
struct Lane {
    in_flight: usize,
    waiting: VecDeque<Question>,
    /// Until when the peer is asked one number per call.
    singly_until: Option<Instant>,
}

/// The lanes of every registration (`administration/peer`) with questions in flight.
#[derive(Default)]
pub struct Batches {
    lanes: Mutex<HashMap<String, Lane>>,
}

impl Batches {
    /// The issuer's statement of `number` (a valid certificate number), asked of the peer
    /// `registration` names, perhaps together with other questions. Waits at most as long as
    /// one call may take.
    pub async fn statement(&self, app: &AppState, registration: &Arc<Peer>, number: &str) -> Answered {
        let (answer, answered) = oneshot::channel();
        let circuit = registration.circuit();
        let question = Question { number: number.to_owned(), registration: registration.clone(), answer };
        let started = {
            let mut lanes = self.lock();
            let lane = lanes.entry(circuit.clone()).or_default();
            lane.waiting.push_back(question);
            if lane.in_flight < IN_FLIGHT {
                lane.in_flight += 1;
                Some(take(lane))
            } else {
                None
            }
        };
        if let Some(batch) = started {
            tokio::spawn(drive(app.clone(), circuit, batch));
        }
        match tokio::time::timeout(CALL_TIMEOUT, answered).await {
            Ok(Ok(answered)) => answered,
            Ok(Err(_)) => Err(CallError::Local("the call asking for this certificate was dropped".into())),
            Err(_) => Err(CallError::Unreachable("timed out waiting for the issuer".into())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lane>> {
        self.lanes.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The next questions waiting in `circuit`'s lane; when none wait, the lane's call ends.
    fn next(&self, circuit: &str) -> Option<(Vec<Question>, bool)> {
        let mut lanes = self.lock();
        let lane = lanes.get_mut(circuit)?;
        if lane.waiting.is_empty() {
            lane.in_flight = lane.in_flight.saturating_sub(1);
            if lane.in_flight == 0 && lane.singly_until.is_none_or(|until| until <= Instant::now()) {
                lanes.remove(circuit);
            }
            return None;
        }
        let singly = lane.singly_until.is_some_and(|until| until > Instant::now());
        Some((take(lane), singly))
    }

    fn ask_singly_for_a_while(&self, circuit: &str) {
        if let Some(lane) = self.lock().get_mut(circuit) {
            lane.singly_until = Some(Instant::now() + SINGLY_FOR);
        }
    }
}

/// Up to a call's worth of the questions waiting in `lane`, oldest first.
fn take(lane: &mut Lane) -> Vec<Question> {
    let count = lane.waiting.len().min(MAX_NUMBERS_PER_CALL);
    lane.waiting.drain(..count).collect()
}

/// Ends a lane's call if the task driving it stops before it has handed the lane back (a
/// panic), so that the lane never counts a call that no longer runs.
struct InFlight<'a> {
    batches: &'a Batches,
    circuit: &'a str,
    ended: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if !self.ended
            && let Some(lane) = self.batches.lock().get_mut(self.circuit)
        {
            lane.in_flight = lane.in_flight.saturating_sub(1);
        }
    }
}

/// Asks for `batch`, then for whatever waits in the lane by then, until nothing does.
async fn drive(app: AppState, circuit: String, mut batch: Vec<Question>) {
    let batches = &app.federation.batches;
    let mut in_flight = InFlight { batches, circuit: &circuit, ended: false };
    let mut singly = false;
    loop {
        // Questions whose asker gave up (timed out, or the client went) are not asked.
        batch.retain(|question| !question.answer.is_closed());
        if let Some(newest) = batch.last() {
            let registration = newest.registration.clone();
            if batch.len() == 1 || singly {
                for question in batch {
                    let answered = one(&app, &registration, &question.number).await;
                    let _ = question.answer.send(answered);
                }
            } else if let Some(refused) = together(&app, &registration, batch).await {
                // The peer does not know the call for several numbers: each is asked alone.
                batches.ask_singly_for_a_while(&circuit);
                for question in refused {
                    let answered = one(&app, &registration, &question.number).await;
                    let _ = question.answer.send(answered);
                }
            }
        }
        match batches.next(&circuit) {
            Some((waiting, alone)) => (batch, singly) = (waiting, alone),
            None => {
                in_flight.ended = true;
                return;
            }
        }
    }
}

/// Asks for one certificate's statement.
async fn one(app: &AppState, registration: &Peer, number: &str) -> Answered {
    let path = format!("/certificates/{number}");
    let (status, body) = call_peer(app, registration, Method::GET, &path, None).await?;
    if status == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    read::<StatementAnswer>(body)
        .map(|answer| Some(answer.statement))
        .inspect_err(|error| answer_refused(app, registration, &path, error))
}

/// Asks for the statements of every question of `batch` in one call and answers each. Gives
/// the questions back when the peer does not know that call (it answers 404: a node of an
/// earlier version, or one that does not host the issuer any more, which the single calls
/// then tell).
async fn together(app: &AppState, registration: &Peer, batch: Vec<Question>) -> Option<Vec<Question>> {
    // Certificate numbers hold only letters, digits, '.', '_' and '-': nothing to escape.
    let numbers: Vec<&str> = batch.iter().map(|question| question.number.as_str()).collect();
    let path = format!("/statements?numbers={}", numbers.join(","));
    let answered = match call_peer(app, registration, Method::GET, &path, None).await {
        Ok((StatusCode::NOT_FOUND, _)) => return Some(batch),
        Ok((_, body)) => read::<StatementsByNumberAnswer>(body)
            .and_then(|answer| {
                if answer.statements.len() == batch.len() { Ok(answer.statements) } else { Err(CallError::Unreadable) }
            })
            .inspect_err(|error| answer_refused(app, registration, &path, error)),
        Err(error) => Err(error),
    };
    match answered {
        Ok(statements) => {
            for (question, statement) in batch.into_iter().zip(statements) {
                let _ = question.answer.send(Ok(statement));
            }
        }
        Err(error) => {
            for question in batch {
                let _ = question.answer.send(Err(error.clone()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(lane: &mut Lane, count: usize, registration: &Arc<Peer>) -> Vec<oneshot::Receiver<Answered>> {
        (0..count)
            .map(|n| {
                let (answer, answered) = oneshot::channel();
                lane.waiting.push_back(Question {
                    number: format!("CL-{n}"),
                    registration: registration.clone(),
                    answer,
                });
                answered
            })
            .collect()
    }

    fn registration() -> Arc<Peer> {
        Arc::new(Peer {
            id: 1,
            administration: "PE".into(),
            peer: "CL".into(),
            base_url: "http://127.0.0.1:1".into(),
            jwks: jsonwebtoken::jwk::JwkSet { keys: Vec::new() },
            pending_jwks: None,
            key_announcement: None,
            last_success_at: None,
            last_error_at: None,
            last_error: None,
        })
    }

    #[test]
    fn a_call_takes_at_most_a_calls_worth_of_questions_oldest_first() {
        let registration = registration();
        let mut lane = Lane::default();
        let _answers = waiting(&mut lane, MAX_NUMBERS_PER_CALL + 5, &registration);
        let first = take(&mut lane);
        assert_eq!(first.len(), MAX_NUMBERS_PER_CALL);
        assert_eq!(first[0].number, "CL-0");
        assert_eq!(
            take(&mut lane).iter().map(|q| q.number.as_str()).collect::<Vec<_>>(),
            ["CL-100", "CL-101", "CL-102", "CL-103", "CL-104"]
        );
        assert!(take(&mut lane).is_empty());
    }

    #[test]
    fn a_lane_hands_its_calls_the_questions_that_wait_and_is_gone_once_its_last_call_ends() {
        let registration = registration();
        let batches = Batches::default();
        let circuit = registration.circuit();
        let _answers = {
            let mut lanes = batches.lock();
            let lane = lanes.entry(circuit.clone()).or_default();
            lane.in_flight = 2;
            waiting(lane, 3, &registration)
        };
        let (next, singly) = batches.next(&circuit).expect("questions wait");
        assert_eq!((next.len(), singly), (3, false));
        // Nothing waits: the first call ends, then the second, and the lane with it.
        assert!(batches.next(&circuit).is_none());
        assert_eq!(batches.lock()[&circuit].in_flight, 1);
        assert!(batches.next(&circuit).is_none());
        assert!(!batches.lock().contains_key(&circuit));
    }

    #[test]
    fn a_peer_that_does_not_know_the_call_for_several_numbers_is_asked_singly_for_a_while() {
        let registration = registration();
        let batches = Batches::default();
        let circuit = registration.circuit();
        batches.lock().entry(circuit.clone()).or_default().in_flight = 1;
        batches.ask_singly_for_a_while(&circuit);
        let _answers = waiting(batches.lock().get_mut(&circuit).expect("lane"), 2, &registration);
        let (next, singly) = batches.next(&circuit).expect("questions wait");
        assert_eq!((next.len(), singly), (2, true));
        // The lane outlives its calls, to remember it.
        assert!(batches.next(&circuit).is_none());
        assert_eq!(batches.lock()[&circuit].in_flight, 0);
    }
}
