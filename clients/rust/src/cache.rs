//! What the client keeps between runs, on disk (or in memory without a directory), per slot
//! (product, license, device): the last good signed answer, the license file, and the clock
//! mark (`keyhook_format::clock_mark`: the highest local time observed, MAC'd). Everything
//! cached is signed or MAC'd and verified again when read, so tampering with the cache only
//! loses it (a missing or altered mark is taken as a clock set back).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Error;

/// A cached answer: the raw body (what the signature covers) and the nonce it answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedAnswer {
    pub body: String,
    pub nonce: String,
}

/// The store: files in `dir`, or a map in memory.
#[derive(Debug)]
pub struct Cache {
    dir: Option<PathBuf>,
    memory: Mutex<HashMap<String, String>>,
}

/// The cache slot of a (product, license key, device).
pub fn slot(product_id: &str, license_key: Option<&str>, device_id: &str) -> String {
    let mut h = Sha256::new();
    for part in [product_id, license_key.unwrap_or(""), device_id] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..12])
}

impl Cache {
    pub fn new(dir: Option<PathBuf>) -> Result<Self, Error> {
        if let Some(d) = &dir {
            std::fs::create_dir_all(d)
                .map_err(|e| Error::Cache(format!("{}: {e}", d.display())))?;
        }
        Ok(Cache {
            dir,
            memory: Mutex::new(HashMap::new()),
        })
    }

    fn read(&self, name: &str) -> Option<String> {
        match &self.dir {
            Some(d) => std::fs::read_to_string(d.join(name)).ok(),
            None => self.memory.lock().ok()?.get(name).cloned(),
        }
    }

    fn write(&self, name: &str, text: &str) -> Result<(), Error> {
        match &self.dir {
            Some(d) => {
                // Write then rename, so a crash never leaves half a file.
                let tmp = d.join(format!(".{name}.tmp"));
                std::fs::write(&tmp, text)
                    .and_then(|_| std::fs::rename(&tmp, d.join(name)))
                    .map_err(|e| Error::Cache(format!("{name}: {e}")))
            }
            None => {
                if let Ok(mut m) = self.memory.lock() {
                    m.insert(name.to_string(), text.to_string());
                }
                Ok(())
            }
        }
    }

    pub fn answer(&self, slot: &str) -> Option<CachedAnswer> {
        serde_json::from_str(&self.read(&format!("answer-{slot}.json"))?).ok()
    }

    pub fn put_answer(&self, slot: &str, answer: &CachedAnswer) -> Result<(), Error> {
        let text = serde_json::to_string(answer).map_err(|e| Error::Cache(e.to_string()))?;
        self.write(&format!("answer-{slot}.json"), &text)
    }

    pub fn file(&self, slot: &str) -> Option<String> {
        self.read(&format!("file-{slot}.lic"))
    }

    pub fn put_file(&self, slot: &str, text: &str) -> Result<(), Error> {
        self.write(&format!("file-{slot}.lic"), text)
    }

    /// Forgets the answer and file of a slot (after Keyhook said the license is not valid, so a
    /// revoked license cannot run on its old proof).
    pub fn forget(&self, slot: &str) {
        for name in [format!("answer-{slot}.json"), format!("file-{slot}.lic")] {
            match &self.dir {
                Some(d) => {
                    let _ = std::fs::remove_file(d.join(name));
                }
                None => {
                    if let Ok(mut m) = self.memory.lock() {
                        m.remove(&name);
                    }
                }
            }
        }
    }

    /// Whether an offline proof (file or answer) is kept for the slot.
    pub fn has_proof(&self, slot: &str) -> bool {
        self.file(slot).is_some() || self.read(&format!("answer-{slot}.json")).is_some()
    }

    /// The slot's clock mark, as stored.
    pub fn mark(&self, slot: &str) -> Option<String> {
        self.read(&format!("mark-{slot}.json"))
    }

    pub fn put_mark(&self, slot: &str, text: &str) -> Result<(), Error> {
        self.write(&format!("mark-{slot}.json"), text)
    }
}
