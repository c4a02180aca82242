//! faultdns: a DNS server that injects faults.
