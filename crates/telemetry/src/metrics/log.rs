//! The metric log's format (version 1), read and written here only.
//!
//! A file starts with the magic `FLOTMETR` and the format version (u32, little endian);
//! then records, each `[length u32][crc32 u32][payload]`, the CRC (IEEE) over the
//! payload. A payload is a stream definition (tag 1: id, region, namespace, metric name,
//! dimensions, unit), which comes before any point of that stream, or a batch of points
//! (tag 2: count, then per point the stream id, its [`PointKind`], second, and the
//! statistic set as four f64). Strings are u16-length-prefixed UTF-8.
//!
//! Reading stops at the first record that is short or fails its CRC: only the tail can be
//! torn (a put is acknowledged after its fsync), and the writer cuts it off.

use flotilla_model::cloudwatch::{Dimension, MetricRef};

use super::{StatSet, StreamKey};

pub const MAGIC: &[u8; 8] = b"FLOTMETR";
pub const VERSION: u32 = 1;
pub const HEADER_LEN: usize = 12;

const TAG_STREAM: u8 = 1;
const TAG_POINTS: u8 = 2;

/// What a logged point is: a datum put (folded into the 60-second bucket, and the
/// 1-second one when high-resolution), or a bucket written by compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointKind {
    Datum = 0,
    HighDatum = 1,
    HighBucket = 2,
    StandardBucket = 3,
}

impl PointKind {
    fn from_u8(b: u8) -> Option<PointKind> {
        [
            PointKind::Datum,
            PointKind::HighDatum,
            PointKind::HighBucket,
            PointKind::StandardBucket,
        ]
        .into_iter()
        .find(|k| *k as u8 == b)
    }
}

/// One point as logged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoggedPoint {
    pub stream: u32,
    pub kind: PointKind,
    pub timestamp: i64,
    pub set: StatSet,
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Stream(u32, StreamKey),
    Points(Vec<LoggedPoint>),
}

/// The file header.
pub fn header() -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&VERSION.to_le_bytes());
    h
}

/// Whether `bytes` start with a header this build reads; an error names what is wrong.
pub fn check_header(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
        return Err("not a Flotilla metric log".into());
    }
    let v = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if v != VERSION {
        return Err(format!(
            "metric log format version {v}, this build reads {VERSION}"
        ));
    }
    Ok(())
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(b.len() as u16).to_le_bytes());
    out.extend_from_slice(b);
}

/// Append one framed record with `payload` to `out`.
fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Append a stream definition record.
pub fn write_stream(out: &mut Vec<u8>, id: u32, key: &StreamKey) {
    let mut p = vec![TAG_STREAM];
    p.extend_from_slice(&id.to_le_bytes());
    put_str(&mut p, &key.region);
    put_str(&mut p, &key.metric.namespace);
    put_str(&mut p, &key.metric.metric_name);
    p.extend_from_slice(&(key.metric.dimensions.len() as u16).to_le_bytes());
    for d in &key.metric.dimensions {
        put_str(&mut p, &d.name);
        put_str(&mut p, &d.value);
    }
    put_str(&mut p, &key.unit);
    frame(out, &p);
}

/// Append a points record.
pub fn write_points(out: &mut Vec<u8>, points: &[LoggedPoint]) {
    let mut p = Vec::with_capacity(5 + points.len() * 45);
    p.push(TAG_POINTS);
    p.extend_from_slice(&(points.len() as u32).to_le_bytes());
    for pt in points {
        p.extend_from_slice(&pt.stream.to_le_bytes());
        p.push(pt.kind as u8);
        p.extend_from_slice(&pt.timestamp.to_le_bytes());
        for v in [pt.set.count, pt.set.sum, pt.set.min, pt.set.max] {
            p.extend_from_slice(&v.to_le_bytes());
        }
    }
    frame(out, &p);
}

/// A cursor over a payload; every read is bounds-checked.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn f64(&mut self) -> Option<f64> {
        Some(f64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u16()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

fn decode_payload(p: &[u8]) -> Option<Entry> {
    let mut c = Cursor(p);
    match c.u8()? {
        TAG_STREAM => {
            let id = c.u32()?;
            let region = c.str()?;
            let namespace = c.str()?;
            let metric_name = c.str()?;
            let n = c.u16()?;
            let mut dimensions = Vec::with_capacity(n as usize);
            for _ in 0..n {
                dimensions.push(Dimension {
                    name: c.str()?,
                    value: c.str()?,
                });
            }
            let unit = c.str()?;
            let metric = MetricRef::new(namespace, metric_name, dimensions);
            Some(Entry::Stream(
                id,
                StreamKey {
                    region,
                    metric,
                    unit,
                },
            ))
        }
        TAG_POINTS => {
            let n = c.u32()? as usize;
            let mut points = Vec::with_capacity(n.min(p.len() / 45));
            for _ in 0..n {
                let stream = c.u32()?;
                let kind = PointKind::from_u8(c.u8()?)?;
                let timestamp = c.i64()?;
                let set = StatSet {
                    count: c.f64()?,
                    sum: c.f64()?,
                    min: c.f64()?,
                    max: c.f64()?,
                };
                points.push(LoggedPoint {
                    stream,
                    kind,
                    timestamp,
                    set,
                });
            }
            Some(Entry::Points(points))
        }
        _ => None,
    }
}

/// The records of `body` (the file after its header) up to the first torn or corrupt one,
/// each with the offset just past it, and the length of the part that was whole.
pub fn read_records(body: &[u8]) -> (Vec<(Entry, usize)>, usize) {
    let mut entries = Vec::new();
    let mut at = 0;
    while body.len() - at >= 8 {
        let len = u32::from_le_bytes(body[at..at + 4].try_into().unwrap_or([0; 4])) as usize;
        let crc = u32::from_le_bytes(body[at + 4..at + 8].try_into().unwrap_or([0; 4]));
        let Some(payload) = body.get(at + 8..at + 8 + len) else {
            break;
        };
        if crc32(payload) != crc {
            break;
        }
        let Some(entry) = decode_payload(payload) else {
            break;
        };
        at += 8 + len;
        entries.push((entry, at));
    }
    (entries, at)
}

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC_TABLE: [u32; 256] = crc_table();

/// CRC-32 (IEEE 802.3) of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c = CRC_TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn records_round_trip_and_a_torn_tail_is_cut() {
        let key = StreamKey {
            region: "us-east-1".into(),
            metric: MetricRef::new(
                "App".into(),
                "Latency".into(),
                vec![Dimension {
                    name: "Host".into(),
                    value: "a".into(),
                }],
            ),
            unit: "Milliseconds".into(),
        };
        let pt = LoggedPoint {
            stream: 0,
            kind: PointKind::HighDatum,
            timestamp: 1_700_000_000,
            set: StatSet::one(4.5),
        };
        let mut out = Vec::new();
        write_stream(&mut out, 0, &key);
        write_points(&mut out, &[pt, pt]);
        let (entries, len) = read_records(&out);
        assert_eq!(len, out.len());
        let entries: Vec<Entry> = entries.into_iter().map(|(e, _)| e).collect();
        assert_eq!(
            entries,
            vec![Entry::Stream(0, key), Entry::Points(vec![pt, pt])]
        );
        for cut in 1..out.len() {
            let (e, len) = read_records(&out[..cut]);
            assert!(e.len() < 2 && len <= cut);
        }
        let mut flipped = out.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(read_records(&flipped).0.len(), 1, "a bad CRC ends the log");
        assert!(check_header(&header()).is_ok());
        let mut newer = header();
        newer[8] = 2;
        assert!(check_header(&newer).unwrap_err().contains("version 2"));
    }
}
