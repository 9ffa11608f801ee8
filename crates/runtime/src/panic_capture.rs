//! Panic capture for error reports. A panic hook records the message and location of a panic on
//! the invocation thread, so the runtime can report it. It then runs the previous hook, which
//! prints the usual panic line to stderr (the Lambda log).

use std::any::Any;
use std::cell::RefCell;
use std::sync::Once;

/// Message and location of one panic, as the panic hook recorded them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicCapture {
    pub message: String,
    /// `file:line:column`, when the panic has a location.
    pub location: Option<String>,
}

thread_local! {
    static LAST_PANIC: RefCell<Option<PanicCapture>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

/// Installs the capturing hook in front of the current one; later calls do nothing.
pub fn install_hook() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let capture = PanicCapture {
                message: info.payload_as_str().unwrap_or("Box<dyn Any>").to_owned(),
                location: info.location().map(|location| location.to_string()),
            };
            // The thread-local may already be destroyed when a thread panics during exit, and
            // a panic hook must not panic, so both failures are ignored.
            let _ = LAST_PANIC.try_with(|slot| {
                if let Ok(mut slot) = slot.try_borrow_mut() {
                    *slot = Some(capture);
                }
            });
            previous(info);
        }));
    });
}

/// Takes the capture of the last panic on this thread, falling back to the text of `payload`
/// when the hook did not run (another hook replaced it).
pub fn take_capture(payload: &(dyn Any + Send)) -> PanicCapture {
    let captured =
        LAST_PANIC.try_with(|slot| slot.try_borrow_mut().ok().and_then(|mut slot| slot.take()));
    if let Ok(Some(capture)) = captured {
        return capture;
    }
    let message = if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "Box<dyn Any>".to_owned()
    };
    PanicCapture {
        message,
        location: None,
    }
}

/// Forgets any capture on this thread, so a panic the handler caught itself is not reported
/// for a later invocation.
pub fn clear_capture() {
    let _ = LAST_PANIC.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = None;
        }
    });
}
