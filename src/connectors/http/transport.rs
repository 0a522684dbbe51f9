//! How requests reach a server: ureq's HTTP/1.1 over a TCP transport that makes fewer system
//! calls than ureq's own, with a name resolver that remembers, so a kept-alive connection is
//! not preceded by a name lookup on every request, and TLS that can trust a company's own
//! certificate authority (`tls.ca_file`).
//!
//! This uses ureq's `unversioned` API (resolvers, connectors), which does not follow semver:
//! Cargo.lock pins the version, and a ureq upgrade must be checked against this module.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::tls::{PemItem, RootCerts, TlsConfig, parse_pem};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout,
    RustlsConnector, ShutdownHandle, Transport,
};

/// How long a host's addresses are reused: curl's default DNS cache timeout.
const REMEMBER_ADDRESSES: Duration = Duration::from_secs(60);

/// The shortest connect attempt an address is given (ureq's).
const MIN_CONNECT_LIMIT: Duration = Duration::from_millis(10);

/// Bytes a transport holds back before it writes them anyway (a large body goes out in parts).
const SEND_AT: usize = 64 * 1024;

/// TLS that trusts the certificate authorities of the PEM file at `ca_file` instead of the
/// public ones.
pub fn tls_config(ca_file: &Path) -> Result<TlsConfig, String> {
    let shown = ca_file.display();
    let pem =
        std::fs::read(ca_file).map_err(|e| format!("tls.ca_file: cannot read {shown}: {e}"))?;
    let mut certificates = Vec::new();
    for item in parse_pem(&pem) {
        match item {
            Ok(PemItem::Certificate(certificate)) => certificates.push(certificate),
            Ok(_) => {}
            Err(e) => return Err(format!("tls.ca_file: {shown} is not readable PEM: {e}")),
        }
    }
    if certificates.is_empty() {
        return Err(format!(
            "tls.ca_file: {shown} holds no certificate (a PEM file with `-----BEGIN CERTIFICATE-----`)"
        ));
    }
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::new_with_certs(&certificates))
        .build())
}

/// An agent (a pool of connections) for `config`, sharing `resolver`'s addresses with the
/// connection's other agents. The chain is ureq's default (HTTP CONNECT proxies, TCP, rustls)
/// with [`TcpConnector`] in place of ureq's; SOCKS proxies are not built in, as before.
pub fn agent(config: Config, resolver: &CachingResolver) -> ureq::Agent {
    let connector =
        ().chain(ConnectProxyConnector::default())
            .chain(TcpConnector)
            .chain(RustlsConnector::default());
    ureq::Agent::with_parts(config, connector, resolver.clone())
}

/// Plain TCP for ureq, with fewer system calls per request than ureq's own connector. On a
/// loopback benchmark, where the server shares the CPU, they were a good part of the cost:
/// - a request's head and body go out in one write when ureq turns to read the answer, not
///   one write each (which also woke the server twice);
/// - a pooled connection is checked with one non-blocking peek, where ureq switched the socket
///   to non-blocking, read and switched it back, twice per request.
#[derive(Debug)]
struct TcpConnector;

impl<In: Transport> Connector<In> for TcpConnector {
    type Out = Either<In, TcpTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        // A CONNECT proxy's tunnel, already open.
        if let Some(transport) = chained {
            return Ok(Some(Either::A(transport)));
        }
        let timeout = details.timeout.not_zero().map(|limit| *limit);
        let stream = connect_first(&details.addrs, timeout).map_err(|e| match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                ureq::Error::Timeout(ureq::Timeout::Connect)
            }
            _ => e.into(),
        })?;
        if details.config.no_delay() {
            stream.set_nodelay(true)?;
        }
        let stream = Arc::new(stream);
        // So that the agent's shutdown interrupts a read blocked on it.
        (details.register_shutdown)(Arc::downgrade(&stream) as Weak<dyn ShutdownHandle>)?;
        let config = details.config;
        Ok(Some(Either::B(TcpTransport {
            stream,
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
            unsent: Vec::new(),
            unsent_deadline: Deadline::new(NextTimeout::default()),
            read_timeout: None,
            write_timeout: None,
        })))
    }
}

/// The first of `addresses` that takes a connection. The connect timeout is shared out
/// between them as curl and ureq do: half of it to the first, a quarter to the second, and
/// so on (the shares add up to the whole), so that a host whose first address never answers
/// (an IPv6 route that drops packets) is still reached at the next one within the timeout.
fn connect_first(addresses: &[SocketAddr], timeout: Option<Duration>) -> io::Result<TcpStream> {
    let mut failure = io::Error::new(io::ErrorKind::ConnectionRefused, "no address to try");
    for (address, limit) in addresses
        .iter()
        .zip(connect_limits(timeout, addresses.len()))
    {
        let attempt = match limit {
            Some(limit) => TcpStream::connect_timeout(address, limit),
            None => TcpStream::connect(address),
        };
        match attempt {
            Ok(stream) => return Ok(stream),
            // Refused, unreachable or silent, the next address may answer.
            Err(e) => failure = e,
        }
    }
    Err(failure)
}

/// Each of `count` addresses' share of the connect `timeout` (see [`connect_first`]), at
/// least [`MIN_CONNECT_LIMIT`].
fn connect_limits(
    timeout: Option<Duration>,
    count: usize,
) -> impl Iterator<Item = Option<Duration>> {
    let count = i32::try_from(count).unwrap_or(i32::MAX);
    let whole = 2.0 * (1.0 - 0.5_f64.powi(count));
    (0..count).map(move |i| {
        timeout.map(|timeout| {
            let share = timeout.as_secs_f64() * 0.5_f64.powi(i) / whole;
            Duration::try_from_secs_f64(share)
                .unwrap_or(timeout)
                .max(MIN_CONNECT_LIMIT)
        })
    })
}

struct TcpTransport {
    stream: Arc<TcpStream>,
    buffers: LazyBuffers,
    /// What ureq has handed over and is not written yet.
    unsent: Vec<u8>,
    /// When the write ureq gave with the last of `unsent` times out.
    unsent_deadline: Deadline,
    /// The socket's timeouts as last set: they are set again only when they change.
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

impl TcpTransport {
    fn send_unsent(&mut self) -> Result<(), ureq::Error> {
        let written = self.write_unsent();
        self.unsent.clear();
        written
    }

    fn write_unsent(&mut self) -> Result<(), ureq::Error> {
        let deadline = self.unsent_deadline;
        let mut sent = 0;
        while sent < self.unsent.len() {
            let written = within(
                &self.stream,
                &mut self.write_timeout,
                TcpStream::set_write_timeout,
                deadline,
                || (&*self.stream).write(&self.unsent[sent..]),
            )?;
            if written == 0 {
                return Err(io::Error::from(io::ErrorKind::WriteZero).into());
            }
            sent += written;
        }
        Ok(())
    }
}

/// When an I/O operation times out. ureq gives each one the time left of the shortest of its
/// limits: the request's whole `timeout` shrinks with every read and write of the request and
/// of its answer's body. Setting the socket's timeout to that exact time before each would
/// cost a system call or two per read and write (it halved the throughput of concurrent
/// writes): the socket waits [`socket_limit`]'s steps instead, which change a few times in a
/// request's life, and a wait that ends before the deadline is waited again.
#[derive(Debug, Clone, Copy)]
struct Deadline {
    /// `None`: no limit.
    at: Option<Instant>,
    reason: ureq::Timeout,
}

impl Deadline {
    fn new(timeout: NextTimeout) -> Deadline {
        Deadline {
            at: timeout
                .not_zero()
                .and_then(|after| Instant::now().checked_add(*after)),
            reason: timeout.reason,
        }
    }

    fn is_ahead(&self) -> bool {
        self.at.is_none_or(|at| Instant::now() < at)
    }

    /// The socket's timeout for the next wait (`None`: none); the timeout error once the
    /// deadline has passed.
    fn socket_limit(&self) -> Result<Option<Duration>, ureq::Error> {
        let Some(at) = self.at else {
            return Ok(None);
        };
        let left = at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ureq::Error::Timeout(self.reason));
        }
        Ok(Some(socket_limit(left)))
    }

    fn error(&self, error: io::Error) -> ureq::Error {
        if is_timeout(&error) {
            ureq::Error::Timeout(self.reason)
        } else {
            error.into()
        }
    }
}

/// The largest power of two of milliseconds within `left` (at least 1 ms): with a deadline
/// 30 s away, 16.384 s, then 8.192 s once fewer than 16.384 s are left, and so on.
fn socket_limit(left: Duration) -> Duration {
    let millis = u64::try_from(left.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(1 << millis.ilog2())
}

/// A socket timeout ends a blocking read or write with EAGAIN.
fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

impl Transport for TcpTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = expired(timeout.for_write())?;
        self.unsent
            .extend_from_slice(&self.buffers.output()[..amount]);
        self.unsent_deadline = Deadline::new(timeout);
        if self.unsent.len() >= SEND_AT {
            self.send_unsent()?;
        }
        Ok(())
    }

    // ureq reads an answer already in the buffer without awaiting input: what is unsent goes
    // out first all the same, so that a request is never left behind.
    fn maybe_await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.send_unsent()?;
        if self.buffers.can_use_input() {
            return Ok(true);
        }
        self.await_input(timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.send_unsent()?;
        let deadline = Deadline::new(expired(timeout.for_read())?);
        let input = self.buffers.input_append_buf();
        let stream = &self.stream;
        let amount = within(
            stream,
            &mut self.read_timeout,
            TcpStream::set_read_timeout,
            deadline,
            || (&**stream).read(input),
        )?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    /// Whether a pooled connection can carry another request: the server has neither closed
    /// it nor sent anything unasked.
    fn is_open(&mut self) -> bool {
        self.unsent.is_empty() && nothing_to_read(&self.stream)
    }
}

#[cfg(unix)]
fn nothing_to_read(stream: &TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut byte = 0u8;
    // SAFETY: recv writes at most 1 byte into `byte`, which outlives the call; the descriptor
    // is the stream's, open as long as `stream` is.
    let read = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            (&raw mut byte).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    read < 0 && io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock
}

#[cfg(not(unix))]
fn nothing_to_read(stream: &TcpStream) -> bool {
    let peeked = stream
        .set_nonblocking(true)
        .and_then(|()| stream.peek(&mut [0u8]));
    let nothing = matches!(peeked, Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).is_ok() && nothing
}

/// `timeout`, or the error it has already run out.
fn expired(timeout: NextTimeout) -> Result<NextTimeout, ureq::Error> {
    if (*timeout.after).is_zero() {
        Err(ureq::Error::Timeout(timeout.reason))
    } else {
        Ok(timeout)
    }
}

/// `io` on the stream, waited for in the socket's steps toward `deadline` (see [`Deadline`]):
/// an interrupted wait, or one that ended before the deadline, is waited again.
fn within<T>(
    stream: &TcpStream,
    current: &mut Option<Duration>,
    set: fn(&TcpStream, Option<Duration>) -> io::Result<()>,
    deadline: Deadline,
    mut io: impl FnMut() -> io::Result<T>,
) -> Result<T, ureq::Error> {
    loop {
        set_timeout(stream, current, deadline.socket_limit()?, set)?;
        match io() {
            Ok(done) => return Ok(done),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The socket's limit is under the time left: the deadline decides.
            Err(e) if is_timeout(&e) && deadline.is_ahead() => {}
            Err(e) => return Err(deadline.error(e)),
        }
    }
}

fn set_timeout(
    stream: &TcpStream,
    current: &mut Option<Duration>,
    wanted: Option<Duration>,
    set: fn(&TcpStream, Option<Duration>) -> io::Result<()>,
) -> io::Result<()> {
    if wanted != *current {
        set(stream, wanted)?;
        *current = wanted;
    }
    Ok(())
}

impl std::fmt::Debug for TcpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpTransport")
            .field("peer", &self.stream.peer_addr().ok())
            .finish_non_exhaustive()
    }
}

/// The system resolver's answers kept for [`REMEMBER_ADDRESSES`]. ureq resolves the host of
/// every request before it looks in its pool: without this, each request on a kept-alive
/// connection asked the system again (10,000 PUTs to `localhost` read `/etc/hosts` 10,000
/// times; with a remote name, each is a DNS query, which glibc does not cache). Failures are
/// not kept: the next request asks again.
#[derive(Clone, Debug, Default)]
pub struct CachingResolver {
    system: Arc<DefaultResolver>,
    /// By scheme and authority (the port may be the scheme's default).
    known: Arc<Mutex<HashMap<String, (Instant, ResolvedSocketAddrs)>>>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let key = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or_default(),
            uri.authority().map_or("", |a| a.as_str())
        );
        let now = Instant::now();
        if let Ok(known) = self.known.lock()
            && let Some((since, addresses)) = known.get(&key)
            && now.duration_since(*since) < REMEMBER_ADDRESSES
        {
            return Ok(addresses.clone());
        }
        let addresses = self.system.resolve(uri, config, timeout)?;
        if let Ok(mut known) = self.known.lock() {
            known.insert(key, (now, addresses.clone()));
        }
        Ok(addresses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A server on loopback that answers each request with the length of the body it got,
    /// after `delay`; counts the connections it accepted.
    fn server(delay: Duration) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                accepted.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = io::BufReader::new(stream);
                    loop {
                        let mut length = 0;
                        let mut line = String::new();
                        while reader.read_line(&mut line).unwrap_or(0) > 2 {
                            if let Some(v) =
                                line.to_ascii_lowercase().strip_prefix("content-length:")
                            {
                                length = v.trim().parse().unwrap();
                            }
                            line.clear();
                        }
                        if line.is_empty() {
                            return;
                        }
                        let mut body = vec![0; length];
                        reader.read_exact(&mut body).unwrap();
                        std::thread::sleep(delay);
                        let answer = length.to_string();
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
                            answer.len()
                        );
                        writer
                            .write_all(format!("{head}{answer}").as_bytes())
                            .unwrap();
                    }
                });
            }
        });
        (url, connections)
    }

    fn client(timeout: Duration) -> ureq::Agent {
        let config = ureq::Agent::config_builder()
            .timeout_per_read(Some(timeout))
            .build();
        agent(config, &CachingResolver::default())
    }

    #[test]
    fn bodies_small_and_larger_than_what_is_held_back_arrive_whole_on_one_connection() {
        let (url, connections) = server(Duration::ZERO);
        let client = client(Duration::from_secs(5));
        for length in [0, 10, SEND_AT - 1, SEND_AT, 3 * SEND_AT + 7] {
            let body = vec![b'x'; length];
            let mut answer = client.post(&url).send(&body[..]).unwrap();
            let got = answer.body_mut().read_to_string().unwrap();
            assert_eq!(got, length.to_string());
        }
        assert_eq!(
            connections.load(Ordering::SeqCst),
            1,
            "the connection is kept"
        );
    }

    #[test]
    fn an_answer_slower_than_the_read_timeout_is_a_timeout() {
        let (url, _) = server(Duration::from_millis(300));
        let error = client(Duration::from_millis(50))
            .put(&url)
            .send("{}")
            .unwrap_err();
        assert!(matches!(error, ureq::Error::Timeout(_)), "{error:?}");
    }

    #[test]
    fn a_deadline_is_waited_in_steps_and_kept_to_the_end() {
        assert_eq!(
            socket_limit(Duration::from_secs(30)),
            Duration::from_millis(16_384)
        );
        assert_eq!(
            socket_limit(Duration::from_millis(1500)),
            Duration::from_millis(1024)
        );
        assert_eq!(
            socket_limit(Duration::from_micros(10)),
            Duration::from_millis(1)
        );
        // The socket wakes after 1024 ms, then 256, 128...: the answer at 1.2 s still counts,
        // and one at 2 s does not.
        let config = |global| {
            ureq::Agent::config_builder()
                .timeout_global(Some(global))
                .build()
        };
        let (url, _) = server(Duration::from_millis(1200));
        let client = agent(
            config(Duration::from_millis(1500)),
            &CachingResolver::default(),
        );
        let mut answer = client.put(&url).send("{}").unwrap();
        assert_eq!(answer.body_mut().read_to_string().unwrap(), "2");
        let (url, _) = server(Duration::from_millis(2000));
        let started = Instant::now();
        let error = agent(
            config(Duration::from_millis(1500)),
            &CachingResolver::default(),
        )
        .put(&url)
        .send("{}")
        .unwrap_err();
        assert!(matches!(error, ureq::Error::Timeout(_)), "{error:?}");
        let took = started.elapsed();
        assert!(
            (Duration::from_millis(1500)..Duration::from_millis(1950)).contains(&took),
            "{took:?}"
        );
    }

    #[test]
    fn the_connect_timeout_is_shared_out_between_the_addresses() {
        let limits =
            |count| connect_limits(Some(Duration::from_secs(7)), count).collect::<Vec<_>>();
        assert_eq!(limits(1), [Some(Duration::from_secs(7))]);
        let three = limits(3);
        let millis: Vec<u128> = three.iter().flatten().map(|d| d.as_millis()).collect();
        assert_eq!(millis, [4000, 2000, 1000]);
        assert!(limits(16).iter().flatten().all(|d| *d >= MIN_CONNECT_LIMIT));
        assert_eq!(connect_limits(None, 2).collect::<Vec<_>>(), [None, None]);
    }

    /// An address on loopback where a connect hangs, as at a host that drops packets: a
    /// listener that accepts nothing, its queue already full, so that the kernel ignores
    /// further connection requests. Keep what it returns alive for as long as it is used.
    #[cfg(target_os = "linux")]
    fn silent_address() -> (TcpListener, Vec<TcpStream>, SocketAddr) {
        use std::os::fd::AsRawFd;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // SAFETY: the descriptor is the listener's; listening again only shortens its queue.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let address = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        while let Ok(stream) = TcpStream::connect_timeout(&address, Duration::from_millis(100)) {
            queued.push(stream);
            assert!(queued.len() < 16, "the listener's queue never filled");
        }
        (listener, queued, address)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_address_that_never_answers_leaves_time_for_the_next() {
        let (_silent, _queued, silent) = silent_address();
        let open = TcpListener::bind("127.0.0.1:0").unwrap();
        let timeout = Duration::from_millis(1500);
        let started = Instant::now();
        let stream = connect_first(&[silent, open.local_addr().unwrap()], Some(timeout)).unwrap();
        assert_eq!(stream.peer_addr().unwrap(), open.local_addr().unwrap());
        // The silent address had two thirds of the timeout, not the whole of it.
        let took = started.elapsed();
        assert!(took < timeout, "took {took:?}");
        let error = connect_first(&[silent], Some(Duration::from_millis(200))).unwrap_err();
        assert!(
            matches!(
                error.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ),
            "{error:?}"
        );
    }

    fn resolve(resolver: &CachingResolver, uri: &str) -> ResolvedSocketAddrs {
        let uri: Uri = uri.parse().unwrap();
        resolver
            .resolve(&uri, &Config::default(), NextTimeout::default())
            .unwrap()
    }

    #[test]
    fn a_host_is_resolved_once_and_its_port_comes_from_the_scheme() {
        let resolver = CachingResolver::default();
        let first = resolve(&resolver, "http://localhost/api/products");
        assert!(first.iter().all(|a| a.port() == 80 && a.ip().is_loopback()));
        assert_eq!(
            resolve(&resolver, "http://localhost/other").to_vec(),
            first.to_vec()
        );
        let tls = resolve(&resolver, "https://localhost:8443/x");
        assert!(tls.iter().all(|a| a.port() == 8443));
        assert_eq!(resolver.known.lock().unwrap().len(), 2);
    }

    #[test]
    fn an_unknown_host_is_an_error_and_not_remembered() {
        let resolver = CachingResolver::default();
        let uri: Uri = "http://no-such-host.invalid/x".parse().unwrap();
        assert!(
            resolver
                .resolve(&uri, &Config::default(), NextTimeout::default())
                .is_err()
        );
        assert!(resolver.known.lock().unwrap().is_empty());
    }
}
