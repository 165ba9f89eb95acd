//! The head marker `accord.head`: the head as of the last commit, so that a log cut short is an error.

use std::fs::File;
use std::io::Write;

use super::Store;
use super::error::{Doing, Error, HeadProblem};
use super::format::{HEAD_FILE, HEAD_TMP};
use crate::error::Result;
use crate::model::envelope::{Envelope, GENESIS, Head, is_hash};

impl Store {
    /// Fails unless [`HEAD_FILE`] holds exactly the log's last event (seq
    /// and hash): the head recorded by the last commit. sled may cut a
    /// damaged log short, silently; the marker makes that an error.
    pub(super) fn check_head_marker(&self, last: Option<&Envelope>) -> Result<()> {
        let dir = || self.dir.clone();
        let (seq, hash) = last.map_or((0, GENESIS), |e| (e.seq, e.hash.as_str()));
        let Some(marker) = self.head_marker()? else {
            if seq == 0 {
                return Ok(());
            }
            return Err(Error::from(HeadProblem::Missing { dir: dir() }).into());
        };
        let problem = if marker.seq > seq {
            HeadProblem::Lost { dir: dir(), log: seq, marker: marker.seq }
        } else if marker.seq < seq {
            HeadProblem::Beyond { dir: dir(), log: seq, marker: marker.seq }
        } else if marker.hash != hash {
            HeadProblem::OtherHash { dir: dir(), seq, log: hash.to_owned(), marker: marker.hash }
        } else {
            return Ok(());
        };
        Err(Error::from(problem).into())
    }

    /// The head as of the last commit, from [`HEAD_FILE`]; `None` if there is none.
    pub(crate) fn head_marker(&self) -> Result<Option<Head>> {
        let path = self.dir.join(HEAD_FILE);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(Error::from(HeadProblem::Unreadable { path, error }).into()),
        };
        let head = serde_json::from_slice::<serde_json::Value>(&text).ok().and_then(|value| {
            let seq = value.get("seq").and_then(serde_json::Value::as_u64)?;
            let hash = value.get("hash").and_then(serde_json::Value::as_str).filter(|h| is_hash(h))?;
            Some(Head { seq, hash: hash.to_owned() })
        });
        match head {
            Some(head) => Ok(Some(head)),
            None => Err(Error::from(HeadProblem::Garbled { path }).into()),
        }
    }

    /// Records `head` in [`HEAD_FILE`]: written to a temporary file, synced,
    /// renamed over the marker, and the directory synced.
    pub(crate) fn write_head_marker(&self, head: &Head) -> Result<()> {
        self.writable()?;
        let text = format!("{{\"seq\":{},\"hash\":\"{}\"}}\n", head.seq, head.hash);
        let (tmp, path) = (self.dir.join(HEAD_TMP), self.dir.join(HEAD_FILE));
        File::create(&tmp)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .and_then(|()| File::open(&self.dir).and_then(|d| d.sync_all()))
            .map_err(|error| Error::Io { doing: Doing::WriteHead(path), error }.into())
    }
}
