//! dnsload: DNS load and loss finder.
