//! One message on the wire: a 4-byte big-endian length, then that many bytes (at most
//! [`MAX_FRAME`]): a tag byte and the message's fields.
//!
//! ```text
//! request   0x01 body…                        an application message (opaque bytes)
//!           0x02 digest[32] index:u32         chunk `index` of the blob with SHA-256 `digest`
//! response  0x81 body…                        the application's answer
//!           0x82 total:u64 bytes…             a chunk, and the blob's length in bytes
//!           0x83 reason (UTF-8)               a refusal
//! ```
//!
//! A frame whose length prefix exceeds [`MAX_FRAME`] is refused before its body is read; a
//! body that is not one of the above is refused whole. Either way the stream is dropped (the
//! libp2p request fails), never a panic.

use std::io;
use std::sync::{Arc, RwLock};

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

use crate::NetError;
use crate::blob::{CHUNK, Digest};

/// The largest frame body, in bytes: a whole chunk and its header.
pub const MAX_FRAME: usize = CHUNK + 64;

/// The request-response protocol name.
pub const PROTOCOL: StreamProtocol = StreamProtocol::new("/zkfl/frames/1");

/// What one peer asks of another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// An application message.
    App(Vec<u8>),
    /// Chunk `index` (0-based, [`CHUNK`] bytes each) of the blob with SHA-256 `digest`.
    Chunk {
        /// The blob's digest.
        digest: Digest,
        /// The chunk's index.
        index: u32,
    },
}

/// The answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// The application's answer.
    App(Vec<u8>),
    /// A chunk of a blob.
    Chunk {
        /// The blob's length in bytes.
        total: u64,
        /// The chunk's bytes.
        bytes: Vec<u8>,
    },
    /// The request was refused, and why.
    Refused(String),
}

impl Request {
    /// The frame body (without the length prefix).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::App(body) => tagged(0x01, body),
            Request::Chunk { digest, index } => {
                let mut out = vec![0x02];
                out.extend_from_slice(&digest.0);
                out.extend_from_slice(&index.to_be_bytes());
                out
            }
        }
    }

    /// Reads a frame body.
    ///
    /// Errors: [`NetError::Malformed`] for an unknown tag or wrong field lengths.
    pub fn decode(body: &[u8]) -> Result<Request, NetError> {
        match body.split_first() {
            Some((0x01, rest)) => Ok(Request::App(rest.to_vec())),
            Some((0x02, rest)) if rest.len() == 36 => Ok(Request::Chunk {
                digest: Digest(rest[..32].try_into().expect("32 bytes")),
                index: u32::from_be_bytes(rest[32..].try_into().expect("4 bytes")),
            }),
            Some((0x02, rest)) => Err(malformed(format!(
                "a chunk request of {} bytes, not 36",
                rest.len()
            ))),
            Some((tag, _)) => Err(malformed(format!("unknown request tag {tag:#04x}"))),
            None => Err(malformed("an empty request".into())),
        }
    }
}

impl Response {
    /// The frame body (without the length prefix).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Response::App(body) => tagged(0x81, body),
            Response::Chunk { total, bytes } => {
                let mut out = Vec::with_capacity(9 + bytes.len());
                out.push(0x82);
                out.extend_from_slice(&total.to_be_bytes());
                out.extend_from_slice(bytes);
                out
            }
            Response::Refused(reason) => tagged(0x83, reason.as_bytes()),
        }
    }

    /// Reads a frame body.
    ///
    /// Errors: [`NetError::Malformed`] for an unknown tag, a short chunk header or a refusal
    /// that is not UTF-8.
    pub fn decode(body: &[u8]) -> Result<Response, NetError> {
        match body.split_first() {
            Some((0x81, rest)) => Ok(Response::App(rest.to_vec())),
            Some((0x82, rest)) if rest.len() >= 8 => Ok(Response::Chunk {
                total: u64::from_be_bytes(rest[..8].try_into().expect("8 bytes")),
                bytes: rest[8..].to_vec(),
            }),
            Some((0x82, _)) => Err(malformed("a chunk without its length".into())),
            Some((0x83, rest)) => String::from_utf8(rest.to_vec())
                .map(Response::Refused)
                .map_err(|_| malformed("a refusal that is not UTF-8".into())),
            Some((tag, _)) => Err(malformed(format!("unknown response tag {tag:#04x}"))),
            None => Err(malformed("an empty response".into())),
        }
    }
}

fn tagged(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + body.len());
    out.push(tag);
    out.extend_from_slice(body);
    out
}

fn malformed(why: String) -> NetError {
    NetError::Malformed(why)
}

/// Reads one frame body from `io`.
///
/// Errors: `InvalidData` for a length over [`MAX_FRAME`]; the stream's errors (a frame cut
/// short is `UnexpectedEof`).
pub async fn read_frame<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            NetError::TooLarge {
                size: len,
                max: MAX_FRAME,
            },
        ));
    }
    let mut body = vec![0u8; len];
    io.read_exact(&mut body).await?;
    Ok(body)
}

/// Writes one frame body to `io` and closes the write side.
///
/// Errors: `InvalidData` for a body over [`MAX_FRAME`]; the stream's errors.
pub async fn write_frame<T: AsyncWrite + Unpin>(io: &mut T, body: &[u8]) -> io::Result<()> {
    if body.len() > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            NetError::TooLarge {
                size: body.len(),
                max: MAX_FRAME,
            },
        ));
    }
    io.write_all(&(body.len() as u32).to_be_bytes()).await?;
    io.write_all(body).await?;
    io.close().await
}

/// Called with the body of every frame a peer writes (see [`crate::Peer::tap_frames`]).
pub type FrameTap = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// Where a peer's codec finds its [`FrameTap`], if one is set.
pub(crate) type TapSlot = Arc<RwLock<Option<FrameTap>>>;

/// The request-response codec of [`Request`] and [`Response`] frames.
#[derive(Clone, Default)]
pub struct FrameCodec {
    tap: TapSlot,
}

impl std::fmt::Debug for FrameCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrameCodec")
    }
}

impl FrameCodec {
    /// A codec that shows every frame body it writes to the tap in `tap`, when there is one.
    pub(crate) fn tapped(tap: TapSlot) -> FrameCodec {
        FrameCodec { tap }
    }

    async fn write<T>(&self, io: &mut T, body: &[u8]) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        let tap = self.tap.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(tap) = tap {
            tap(body);
        }
        write_frame(io, body).await
    }
}

fn invalid(e: NetError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl libp2p::request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = Request;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        Request::decode(&read_frame(io).await?).map_err(invalid)
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        Response::decode(&read_frame(io).await?).map_err(invalid)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write(io, &req.encode()).await
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write(io, &res.encode()).await
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use futures::io::Cursor;
    use proptest::prelude::*;

    use super::*;

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    proptest! {
        #[test]
        fn requests_and_responses_round_trip(body in proptest::collection::vec(any::<u8>(), 0..300),
                                             digest in any::<[u8; 32]>(), index in any::<u32>(),
                                             total in any::<u64>(), reason in ".{0,40}") {
            for r in [Request::App(body.clone()), Request::Chunk { digest: Digest(digest), index }] {
                prop_assert_eq!(Request::decode(&r.encode()).unwrap(), r);
            }
            for r in [Response::App(body.clone()), Response::Chunk { total, bytes: body.clone() },
                      Response::Refused(reason)] {
                prop_assert_eq!(Response::decode(&r.encode()).unwrap(), r);
            }
        }

        #[test]
        fn no_bytes_make_decoding_panic(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Request::decode(&body);
            let _ = Response::decode(&body);
        }
    }

    #[test]
    fn a_frame_reads_back() {
        let mut io = Cursor::new(Vec::new());
        block_on(write_frame(&mut io, b"hello")).unwrap();
        let mut io = Cursor::new(io.into_inner());
        assert_eq!(block_on(read_frame(&mut io)).unwrap(), b"hello");
    }

    #[test]
    fn an_oversized_frame_is_refused_before_its_body_is_read() {
        let mut prefix = ((MAX_FRAME + 1) as u32).to_be_bytes().to_vec();
        prefix.extend_from_slice(b"short");
        let err = block_on(read_frame(&mut Cursor::new(prefix))).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("over the"), "{err}");
        let big = vec![0u8; MAX_FRAME + 1];
        let err = block_on(write_frame(&mut Cursor::new(Vec::new()), &big)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_frame_cut_short_or_malformed_is_an_error() {
        let mut cut = framed(b"\x01abcdef");
        cut.truncate(7);
        let err = block_on(read_frame(&mut Cursor::new(cut))).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        for bad in [
            &b""[..],
            b"\x02short",
            b"\x7fx",
            b"\x82abc",
            b"\x83\xff\xfe",
        ] {
            assert!(
                Request::decode(bad).is_err() || Response::decode(bad).is_err(),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Request::decode(b"\x02short"),
            Err(NetError::Malformed(_))
        ));
        assert!(matches!(
            Response::decode(b"\x82abc"),
            Err(NetError::Malformed(_))
        ));
        assert!(matches!(
            Response::decode(b"\x83\xff\xfe"),
            Err(NetError::Malformed(_))
        ));
    }
}
