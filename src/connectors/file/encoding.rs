//! Streaming text decoding (Windows-1252, the encoding of most French ERP exports) into UTF-8.

use std::io::Read;

pub struct Decoder<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    output: Vec<u8>,
    out_pos: usize,
    eof: bool,
}

impl<R: Read> Decoder<R> {
    pub fn windows_1252(inner: R) -> Self {
        Decoder {
            inner,
            decoder: encoding_rs::WINDOWS_1252.new_decoder_without_bom_handling(),
            input: vec![0; 64 * 1024],
            output: Vec::with_capacity(3 * 64 * 1024 + 16),
            out_pos: 0,
            eof: false,
        }
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.out_pos == self.output.len() {
            if self.eof {
                return Ok(0);
            }
            let n = self.inner.read(&mut self.input)?;
            self.eof = n == 0;
            self.output.clear();
            self.out_pos = 0;
            let needed = self.decoder.max_utf8_buffer_length(n).unwrap_or(3 * n + 16);
            self.output.resize(needed, 0);
            let (_, _, written, _) =
                self.decoder
                    .decode_to_utf8(&self.input[..n], &mut self.output, self.eof);
            self.output.truncate(written);
        }
        let n = buf.len().min(self.output.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.output[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// A writer that takes UTF-8 and writes Windows-1252 (characters it cannot hold become `?`).
/// A character split across two writes is kept until its last byte arrives.
pub struct Encoder<W> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: std::io::Write> Encoder<W> {
    pub fn windows_1252(inner: W) -> Self {
        Encoder {
            inner,
            pending: Vec::new(),
        }
    }

    pub fn into_inner(self) -> W {
        self.inner
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }
}

impl<W: std::io::Write> std::io::Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        let complete = match std::str::from_utf8(&self.pending) {
            Ok(text) => text.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => return Err(std::io::Error::other("not UTF-8 text")),
        };
        let text = std::str::from_utf8(&self.pending[..complete]).unwrap_or_default();
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        self.inner.write_all(&bytes)?;
        self.pending.drain(..complete);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
