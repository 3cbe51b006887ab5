#include "qdrantd/server/notify.h"

#ifdef QD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace qd::server {

void NotifyReady() {
#ifdef QD_HAVE_SYSTEMD
  sd_notify(0, "READY=1");
#endif
}

void NotifyStopping() {
#ifdef QD_HAVE_SYSTEMD
  sd_notify(0, "STOPPING=1");
#endif
}

}  // namespace qd::server
