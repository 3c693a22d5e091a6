//! Turns for the large operator answers (`ops::dumps`): the shell captures one only when it
//! holds a permit, so at most a few captures exist and render at once; a request that finds
//! none waits on a task and comes back to the shell as [`ToShell::Turn`].

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use crate::inbox::ToShell;
use crate::ops::dumps::Capture;

/// The permits for large answers.
pub struct DumpTurns {
    permits: Arc<Semaphore>,
}

/// Whether a request may be answered now.
pub enum Turn {
    /// Yes, holding this permit (`None` for an answer that is not large).
    Go(Option<OwnedSemaphorePermit>),
    /// No: it waits for a permit.
    Wait,
}

impl DumpTurns {
    /// `max` large answers at once.
    pub fn new(max: usize) -> DumpTurns {
        DumpTurns {
            permits: Arc::new(Semaphore::new(max)),
        }
    }

    /// Whether a request (`large` or not, with the permit it waited for, if any) goes now.
    pub fn turn(&self, large: bool, permit: Option<OwnedSemaphorePermit>) -> Turn {
        if !large || permit.is_some() {
            return Turn::Go(permit);
        }
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => Turn::Go(Some(permit)),
            Err(_) => Turn::Wait,
        }
    }

    /// Sends `request` back to the shell as [`ToShell::Turn`] once a permit is free.
    pub fn wait(&self, request: ToShell, shell: &mpsc::Sender<ToShell>) {
        let permits = Arc::clone(&self.permits);
        let shell = shell.clone();
        tokio::spawn(async move {
            if let Ok(permit) = permits.acquire_owned().await {
                let request = Box::new(request);
                let _ = shell.send(ToShell::Turn { request, permit }).await;
            }
        });
    }
}

/// Renders `capture` (taken in `capture_took`) on the blocking pool and hands the text to
/// `send`; the permit is given back once the text is made.
pub fn render_elsewhere(
    (capture, capture_took): (Capture, std::time::Duration),
    permit: Option<OwnedSemaphorePermit>,
    send: impl FnOnce(String) + Send + 'static,
) {
    tracing::debug!(
        ?capture_took,
        "large operator answer captured; rendering it off the shell"
    );
    tokio::task::spawn_blocking(move || {
        let text = capture.render();
        drop(permit);
        send(text);
    });
}
