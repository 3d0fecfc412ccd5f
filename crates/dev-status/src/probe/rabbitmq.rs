//! RabbitMQ (optional): the AMQP 0-9-1 handshake up to `Connection.Tune` with the bundle's
//! credentials (PLAIN), and the management API (`/api/overview`). The handshake is spoken
//! directly: it is four frames, and a client library would add a connection pool we don't need.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::{Class, Ctx, Problem, http};

const PROTOCOL_HEADER: &[u8; 8] = b"AMQP\x00\x00\x09\x01";
const FRAME_METHOD: u8 = 1;
const FRAME_END: u8 = 0xCE;
/// Larger frames than this during the handshake mean we are not talking to RabbitMQ.
const MAX_HANDSHAKE_FRAME: u32 = 1 << 20;

#[derive(Debug)]
pub struct Target {
    pub user: String,
    pub password: String,
    pub management: reqwest::Url,
}

impl Target {
    pub async fn check(&self, ctx: &Ctx, deadline: Duration) -> Result<String, Problem> {
        let addrs = ctx.resolve().await?;
        let (amqp, management) = tokio::join!(
            self.handshake(addrs[0], ctx, deadline),
            self.management(ctx, deadline)
        );
        let product = amqp?;
        management?;
        Ok(format!(
            "AMQP handshake ok as `{}` ({product}), management API ok",
            self.user
        ))
    }

    async fn handshake(
        &self,
        addr: std::net::SocketAddr,
        ctx: &Ctx,
        deadline: Duration,
    ) -> Result<String, Problem> {
        let io = |e: std::io::Error| ctx.io(&e, deadline);
        let mut stream = tokio::net::TcpStream::connect(addr).await.map_err(io)?;
        stream.write_all(PROTOCOL_HEADER).await.map_err(io)?;
        let start = read_method(&mut stream, ctx, deadline).await?;
        if (start.class, start.method) != (10, 10) {
            return Err(ctx.protocol(&format!(
                "expected Connection.Start, got method {}.{}",
                start.class, start.method
            )));
        }
        let mechanisms = parse_start_mechanisms(&start.args)
            .ok_or_else(|| ctx.protocol("malformed Connection.Start"))?;
        if !mechanisms.split_whitespace().any(|m| m == "PLAIN") {
            return Err(ctx.misconfigured(&format!(
                "RabbitMQ at {} does not offer PLAIN authentication (offers: {mechanisms}) — enable it in rabbitmq.conf",
                ctx.addr()
            )));
        }
        stream
            .write_all(&start_ok_frame(&self.user, &self.password))
            .await
            .map_err(io)?;
        match read_method(&mut stream, ctx, deadline).await {
            Ok(m) if (m.class, m.method) == (10, 30) => Ok("Connection.Tune received".to_string()),
            Ok(m) if (m.class, m.method) == (10, 50) => {
                let (code, text) = parse_close(&m.args).unwrap_or((0, String::new()));
                if code == 403 {
                    Err(ctx.auth(&self.user, &text))
                } else {
                    Err(ctx.protocol(&format!("Connection.Close {code} {text}")))
                }
            }
            Ok(m) => Err(ctx.protocol(&format!(
                "expected Connection.Tune, got method {}.{}",
                m.class, m.method
            ))),
            // Servers without the authentication_failure_close capability just hang up.
            Err(p) if p.message.contains("closed the connection") => {
                Err(ctx.auth(&self.user, "connection closed after Start-Ok"))
            }
            Err(p) => Err(p),
        }
    }

    async fn management(&self, ctx: &Ctx, deadline: Duration) -> Result<(), Problem> {
        let client = http::client(deadline)?;
        let mut url = self.management.clone();
        let base = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{base}/api/overview"));
        let mgmt_ctx = Ctx {
            host: url.host_str().unwrap_or_default().to_string(),
            port: url.port_or_known_default().unwrap_or(15672),
            keys: "RABBITMQ_MANAGEMENT_URL".to_string(),
            ..ctx.clone()
        };
        let (status, _) = http::fetch(
            &client,
            reqwest::Method::GET,
            url,
            Some((&self.user, &self.password)),
            &mgmt_ctx,
            deadline,
        )
        .await?;
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(http::unexpected_status(&mgmt_ctx, status, Some(200)))
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Method {
    class: u16,
    method: u16,
    args: Vec<u8>,
}

async fn read_method(
    stream: &mut tokio::net::TcpStream,
    ctx: &Ctx,
    deadline: Duration,
) -> Result<Method, Problem> {
    let mut header = [0u8; 7];
    if let Err(e) = stream.read_exact(&mut header).await {
        return Err(if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Problem::new(
                Class::Protocol,
                format!(
                    "{} closed the connection during the AMQP handshake",
                    ctx.addr()
                ),
            )
        } else {
            ctx.io(&e, deadline)
        });
    }
    if header.starts_with(b"AMQP") {
        return Err(ctx.protocol("the server wants another AMQP version"));
    }
    if header[0] != FRAME_METHOD {
        return Err(ctx.protocol(&format!(
            "not an AMQP frame (starts with {:?})",
            String::from_utf8_lossy(&header[..4])
        )));
    }
    let size = u32::from_be_bytes([header[3], header[4], header[5], header[6]]);
    if !(4..=MAX_HANDSHAKE_FRAME).contains(&size) {
        return Err(ctx.protocol(&format!("implausible AMQP frame size {size}")));
    }
    let mut payload = vec![0u8; size as usize + 1];
    stream
        .read_exact(&mut payload)
        .await
        .map_err(|e| ctx.io(&e, deadline))?;
    if payload.pop() != Some(FRAME_END) {
        return Err(ctx.protocol("AMQP frame without its end marker"));
    }
    decode_method(&payload).ok_or_else(|| ctx.protocol("malformed AMQP method frame"))
}

fn decode_method(payload: &[u8]) -> Option<Method> {
    Some(Method {
        class: u16::from_be_bytes([*payload.first()?, *payload.get(1)?]),
        method: u16::from_be_bytes([*payload.get(2)?, *payload.get(3)?]),
        args: payload.get(4..)?.to_vec(),
    })
}

/// `Connection.Start` args: version-major, version-minor, server-properties (table),
/// mechanisms (longstr), locales (longstr). Returns the mechanisms.
fn parse_start_mechanisms(args: &[u8]) -> Option<String> {
    let table_len = u32::from_be_bytes(args.get(2..6)?.try_into().ok()?) as usize;
    let at = 6 + table_len;
    let len = u32::from_be_bytes(args.get(at..at + 4)?.try_into().ok()?) as usize;
    Some(String::from_utf8_lossy(args.get(at + 4..at + 4 + len)?).into_owned())
}

/// `Connection.Close` args: reply-code, reply-text (shortstr), class-id, method-id.
fn parse_close(args: &[u8]) -> Option<(u16, String)> {
    let code = u16::from_be_bytes([*args.first()?, *args.get(1)?]);
    let len = *args.get(2)? as usize;
    Some((
        code,
        String::from_utf8_lossy(args.get(3..3 + len)?).into_owned(),
    ))
}

fn shortstr(out: &mut Vec<u8>, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(255)];
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

fn longstr(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// `Connection.Start-Ok` with PLAIN credentials, announcing `authentication_failure_close`
/// so that a wrong password is answered with `Connection.Close 403` instead of a hang-up.
fn start_ok_frame(user: &str, password: &str) -> Vec<u8> {
    let mut capabilities = Vec::new();
    shortstr(&mut capabilities, "authentication_failure_close");
    capabilities.extend_from_slice(&[b't', 1]);
    let mut properties = Vec::new();
    shortstr(&mut properties, "product");
    properties.push(b'S');
    longstr(&mut properties, b"devenv dev-status");
    shortstr(&mut properties, "capabilities");
    properties.push(b'F');
    longstr(&mut properties, &capabilities);

    let mut payload = Vec::new();
    payload.extend_from_slice(&10u16.to_be_bytes());
    payload.extend_from_slice(&11u16.to_be_bytes());
    longstr(&mut payload, &properties);
    shortstr(&mut payload, "PLAIN");
    longstr(&mut payload, format!("\0{user}\0{password}").as_bytes());
    shortstr(&mut payload, "en_US");

    let mut frame = vec![FRAME_METHOD, 0, 0];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&payload);
    frame.push(FRAME_END);
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_ok_frame_is_well_formed() {
        let frame = start_ok_frame("guest", "secret");
        assert_eq!(frame[0], FRAME_METHOD);
        assert_eq!(&frame[1..3], &[0, 0]);
        let size = u32::from_be_bytes(frame[3..7].try_into().unwrap()) as usize;
        assert_eq!(frame.len(), 7 + size + 1);
        assert_eq!(*frame.last().unwrap(), FRAME_END);
        let method = decode_method(&frame[7..7 + size]).unwrap();
        assert_eq!((method.class, method.method), (10, 11));
        // client-properties table, then the mechanism, the PLAIN response and the locale.
        let table = u32::from_be_bytes(method.args[0..4].try_into().unwrap()) as usize;
        let rest = &method.args[4 + table..];
        assert_eq!(&rest[..6], b"\x05PLAIN");
        let resp_len = u32::from_be_bytes(rest[6..10].try_into().unwrap()) as usize;
        assert_eq!(&rest[10..10 + resp_len], b"\0guest\0secret");
        assert_eq!(&rest[10 + resp_len..], b"\x05en_US");
    }

    #[test]
    fn parses_start_and_close() {
        let mut args = vec![0, 9];
        longstr(&mut args, b"");
        longstr(&mut args, b"AMQPLAIN PLAIN");
        longstr(&mut args, b"en_US");
        assert_eq!(
            parse_start_mechanisms(&args).as_deref(),
            Some("AMQPLAIN PLAIN")
        );
        let mut close = 403u16.to_be_bytes().to_vec();
        shortstr(&mut close, "ACCESS_REFUSED - Login was refused");
        close.extend_from_slice(&[0, 10, 0, 11]);
        assert_eq!(
            parse_close(&close),
            Some((403, "ACCESS_REFUSED - Login was refused".to_string()))
        );
        assert_eq!(parse_start_mechanisms(&[0, 9, 0]), None);
    }
}
