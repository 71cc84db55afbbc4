//! Validation mode's game files (`--transcripts DIR`): for every room whose
//! table it validates, the relay writes the game's transcript
//! (`shared::transcript`, `.bctx`) as it goes: the header when the house
//! announces the table, then each game frame the engine took in its turn,
//! appended (one write per frame, no buffer of ours) in the relay's order
//! under the room's lock, so a crash loses at most the frame being
//! written; and the relay's claims (the rolls and state its copy of the
//! game reached) when the room closes. `bitcraps-verify` checks a finished
//! file; `bitcraps-verify --unfinished` one whose room was still open.
//!
//! A file is named `<room hex>-<unix ms at announcement>.bctx`. A write
//! that fails is logged, and that room's file is given up (the game goes
//! on; the relay never stops a table for its own disk).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use dashmap::DashMap;
use shared::hex;
use shared::session::{GameConfig, Session, TranscriptEntry};
use shared::transcript::{claims_of, encode_claims, encode_entry, header};
use shared::wire::RoomId;

/// One room's file.
struct Writer {
    file: File,
    path: PathBuf,
    /// Transcript entries written so far.
    written: usize,
}

/// The open game files, one per validated room.
pub struct TranscriptLog {
    dir: PathBuf,
    open: DashMap<RoomId, Mutex<Writer>>,
}

impl TranscriptLog {
    /// Files go into `dir` (which must exist).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            open: DashMap::new(),
        }
    }

    /// Files being written now.
    pub fn open_files(&self) -> usize {
        self.open.len()
    }

    /// The house announced `config`'s table: its file starts.
    pub fn start(&self, config: &GameConfig) {
        if self.open.contains_key(&config.game) {
            return;
        }
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let path = self.dir.join(format!("{}-{ms}.bctx", hex(&config.game)));
        let opened = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut file| file.write_all(&header(config, None)).map(|()| file));
        match opened {
            Ok(file) => {
                tracing::info!(file = %path.display(), "writing the game's transcript");
                self.open.insert(
                    config.game,
                    Mutex::new(Writer {
                        file,
                        path,
                        written: 0,
                    }),
                );
            }
            Err(error) => {
                tracing::error!(file = %path.display(), %error, "cannot write the game's transcript")
            }
        }
    }

    /// How many of `room`'s transcript entries are written (`None`: no
    /// file for it).
    pub fn written(&self, room: &RoomId) -> Option<usize> {
        self.open
            .get(room)
            .and_then(|w| w.lock().ok().map(|w| w.written))
    }

    /// Appends `entries`, the room's transcript entries after those
    /// written.
    pub fn append(&self, room: &RoomId, entries: &[TranscriptEntry]) {
        if entries.is_empty() {
            return;
        }
        let mut bytes = Vec::with_capacity(entries.len() * 192);
        for entry in entries {
            encode_entry(entry, &mut bytes);
        }
        self.write(room, &bytes, entries.len());
    }

    /// The room closed with its game `session`: what is left, then the
    /// relay's claims; the file is done.
    pub fn finish(&self, room: &RoomId, session: &Session) {
        let Some(from) = self.written(room) else {
            return;
        };
        self.append(room, session.transcript().get(from..).unwrap_or_default());
        let mut claims = Vec::with_capacity(64);
        encode_claims(&claims_of(session), &mut claims);
        self.write(room, &claims, 0);
        if let Some((_, writer)) = self.open.remove(room) {
            if let Ok(w) = writer.into_inner() {
                tracing::info!(file = %w.path.display(), entries = w.written, "game transcript finished");
            }
        }
    }

    fn write(&self, room: &RoomId, bytes: &[u8], entries: usize) {
        let failed = {
            let Some(writer) = self.open.get(room) else {
                return;
            };
            let Ok(mut w) = writer.lock() else {
                return;
            };
            match w.file.write_all(bytes) {
                Ok(()) => {
                    w.written += entries;
                    None
                }
                Err(error) => Some((w.path.clone(), error)),
            }
        };
        if let Some((path, error)) = failed {
            tracing::error!(file = %path.display(), %error, "cannot write the game's transcript: given up for this room");
            self.open.remove(room);
        }
    }
}
