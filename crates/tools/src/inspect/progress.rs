//! A byte-position progress bar on stderr for large files (indicatif), or nothing.

use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Files smaller than this get no bar: they are read before it would show.
const MIN_LEN: u64 = 4 << 20;

/// A progress bar over a file's bytes, hidden unless enabled and the file is large.
#[derive(Debug)]
pub struct Progress(Option<ProgressBar>);

impl Progress {
    /// A bar for reading `len` bytes of `path`, drawn on stderr if `enabled` and the file is
    /// at least 4 MiB.
    pub fn new(path: &Path, len: u64, enabled: bool) -> Progress {
        if !enabled || len < MIN_LEN {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into(),
        ));
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress(Some(bar))
    }

    /// Reports that everything before `offset` has been read.
    pub fn set(&self, offset: u64) {
        if let Some(b) = &self.0 {
            b.set_position(offset);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
