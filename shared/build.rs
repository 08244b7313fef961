//! Compresses the published OpenAPI document (`openapi/openapi.json`, which `make openapi`
//! writes) into `$OUT_DIR/openapi.json.gz`, which `GET /openapi.json` sends to clients that
//! accept gzip (`app::openapi::PUBLISHED_GZIP`).

use std::io::Write;

fn main() {
    let source = "openapi/openapi.json";
    println!("cargo:rerun-if-changed={source}");
    let document = std::fs::read(source).expect("openapi/openapi.json (make openapi writes it)");
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(&document).expect("gzip in memory");
    let out =
        std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("openapi.json.gz");
    std::fs::write(out, gzip.finish().expect("gzip in memory"))
        .expect("write OUT_DIR/openapi.json.gz");
}
