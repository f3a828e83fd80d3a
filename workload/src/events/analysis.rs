//! Analysis-service events: uploads, analysis runs and the access audit trail.
//!
//! Invariant: every completed or failed analysis was requested earlier (first in, first out),
//! on an upload received earlier, and reports the same kind it was requested with.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{Ctx, EventType, Generator, id_field, log_normal, one, weighted};
use crate::entities::{Kind, PendingAnalysis, pick_hot, pick_recent};
use crate::taxonomy::AUDIT_ACTIONS;

const KINDS: [&str; 6] = [
    "descriptive",
    "regression",
    "clustering",
    "forecast",
    "anomaly_detection",
    "classification",
];

impl Generator {
    pub(super) fn analysis(&mut self, rng: &mut ChaCha8Rng, ty: EventType, ctx: Ctx) {
        use EventType::*;
        let ids = self.ids;
        let t = ctx.tenant;
        let upload = |i: u64| ids.entity(Kind::Upload, t, i);
        let analyst = |i: u64| ids.entity(Kind::Analyst, t, i);
        let analysis = |i: u64| ids.entity(Kind::Analysis, t, i);
        let pools = &mut self.pools[t];
        match ty {
            UploadReceived => {
                let uploader = if pools.analysts == 0 || rng.random_bool(0.25) {
                    pools.analysts += 1;
                    pools.analysts - 1
                } else {
                    pick_hot(rng, pools.analysts)
                };
                let index = pools.uploads.len() as u64;
                pools.uploads.push(uploader);
                self.open(rng, ty, ctx, analyst(uploader));
                let w = &mut self.writer;
                let (format, bytes_per_row) = weighted(
                    rng,
                    &[
                        (("csv", 110), 50),
                        (("xlsx", 90), 25),
                        (("parquet", 35), 15),
                        (("json", 220), 10),
                    ],
                );
                let size = log_normal(rng, 2_000_000.0, 1.4).max(200.0) as i64;
                id_field(w, "upload_id", upload(index));
                w.key("size_bytes");
                w.int(size);
                w.key("rows");
                w.int(size / bytes_per_row);
                w.key("format");
                w.str(format);
            }
            AnalysisRequested => {
                let up = pick_recent(rng, pools.uploads.len() as u64);
                let job = PendingAnalysis {
                    analysis: pools.analyses,
                    upload: up,
                    kind: rng.random_range(0..KINDS.len()) as u8,
                };
                pools.analyses += 1;
                pools.pending_analyses.push_back(job);
                let uploader = pools.uploads[up as usize];
                self.open(rng, ty, ctx, analyst(uploader));
                let w = &mut self.writer;
                id_field(w, "analysis_id", analysis(job.analysis));
                id_field(w, "upload_id", upload(job.upload));
                w.key("kind");
                w.str(KINDS[job.kind as usize]);
            }
            AnalysisCompleted | AnalysisFailed => {
                let job = pools
                    .pending_analyses
                    .pop_front()
                    .expect("resolve guarantees a pending analysis");
                let uploader = pools.uploads[job.upload as usize];
                self.open(rng, ty, ctx, analyst(uploader));
                let w = &mut self.writer;
                id_field(w, "analysis_id", analysis(job.analysis));
                id_field(w, "upload_id", upload(job.upload));
                w.key("kind");
                w.str(KINDS[job.kind as usize]);
                if ty == AnalysisCompleted {
                    w.key("duration_ms");
                    w.int(log_normal(rng, 8_000.0, 1.0) as i64);
                } else {
                    let error = weighted(
                        rng,
                        &[
                            ("timeout", 30),
                            ("invalid_input", 40),
                            ("out_of_memory", 10),
                            ("internal", 20),
                        ],
                    );
                    w.key("duration_ms");
                    w.int(if error == "timeout" {
                        300_000 + rng.random_range(0..5_000)
                    } else {
                        log_normal(rng, 2_000.0, 1.0) as i64
                    });
                    w.key("error_class");
                    w.str(error);
                }
            }
            AuditLogged => {
                let actor = pick_hot(rng, pools.analysts);
                let target = pick_hot(rng, pools.uploads.len() as u64);
                self.open(rng, ty, ctx, analyst(actor));
                let w = &mut self.writer;
                id_field(w, "audit_id", ids.line(Kind::Audit, ctx.seq));
                id_field(w, "actor_id", analyst(actor));
                w.key("action");
                w.str(one(rng, &AUDIT_ACTIONS));
                w.key("resource");
                w.str_args(format_args!("upload/{}", upload(target)));
                w.key("outcome");
                w.str(weighted(
                    rng,
                    &[("success", 93), ("denied", 5), ("error", 2)],
                ));
            }
            _ => unreachable!("{ty:?} is not an analysis event"),
        }
        self.close();
    }
}
