#pragma once
namespace gligen {
// Registers the studio's compiled-in resources (:/gligen/...). Safe to call more than once.
void initResources();
}  // namespace gligen
