//! The `faultdns` binary, driven by `dig` (Debian's dnsutils), a client no one here wrote.
