using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>Network commands (IP Helper through WindowsSystem); the Linux side is LinuxCommandHandler.Network.cs.</summary>
public sealed partial class WindowsCommandHandler
{
    public override ValueTask<IReadOnlyList<GuestNetworkInterface>> GuestNetworkGetInterfacesAsync(CancellationToken cancellationToken) =>
        Done<IReadOnlyList<GuestNetworkInterface>>(WindowsSystem.Adapters().ConvertAll(a => a.Interface));

    // QEMU's guest-network-get-route is Linux-only; on Windows the route table is our extension.
    public override ValueTask<IReadOnlyList<GuestNetworkRoute>> GuestGetRoutesAsync(CancellationToken cancellationToken) =>
        Done<IReadOnlyList<GuestNetworkRoute>>(WindowsSystem.Routes());
}
