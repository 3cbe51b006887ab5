// libraft's headers declare no extern "C" linkage of their own: include them through here.
#pragma once

extern "C" {
#include <raft.h>
#include <raft/fixture.h>
}
