// Service-manager readiness (sd_notify) when qdrantd runs under systemd with Type=notify. A no-op
// when libsystemd was not found at build time or NOTIFY_SOCKET is unset.
#pragma once

namespace qd::server {
void NotifyReady();
void NotifyStopping();
}  // namespace qd::server
