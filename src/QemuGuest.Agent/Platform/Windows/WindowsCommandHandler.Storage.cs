using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Agent.Core;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>Disks, filesystems, fstrim and fsfreeze through VSS; the Linux side is LinuxCommandHandler.Storage.cs.</summary>
public sealed partial class WindowsCommandHandler
{
    public override ValueTask<IReadOnlyList<GuestDiskInfo>> GuestGetDisksAsync(CancellationToken cancellationToken) =>
        Done<IReadOnlyList<GuestDiskInfo>>(WindowsVolumes.Disks());

    public override ValueTask<IReadOnlyList<GuestFilesystemInfo>> GuestGetFsinfoAsync(CancellationToken cancellationToken)
    {
        RequireVss();
        var list = new List<GuestFilesystemInfo>();
        foreach (string volume in WindowsVolumes.Volumes())
        {
            try
            {
                // qemu-ga prepends each volume and skips the ones it cannot read.
                if (WindowsVolumes.Filesystem(volume) is GuestFilesystemInfo fs)
                {
                    list.Insert(0, fs);
                }
            }
            catch (AgentCommandException)
            {
            }
        }

        return Done<IReadOnlyList<GuestFilesystemInfo>>(list);
    }

    public override ValueTask<GuestFilesystemTrimResponse> GuestFstrimAsync(long? minimum, CancellationToken cancellationToken) =>
        Done(WindowsSystem.Fstrim(cancellationToken));

    // ---- fsfreeze through VSS (qmp_guest_fsfreeze_*) ----
    public override ValueTask<GuestFsfreezeStatus> GuestFsfreezeStatusAsync(CancellationToken cancellationToken)
    {
        RequireVss();
        return base.GuestFsfreezeStatusAsync(cancellationToken);
    }

    public override ValueTask<long> GuestFsfreezeFreezeAsync(CancellationToken cancellationToken) => Freeze(null);

    public override ValueTask<long> GuestFsfreezeFreezeListAsync(IReadOnlyList<string>? mountpoints, CancellationToken cancellationToken) => Freeze(mountpoints);

    private ValueTask<long> Freeze(IReadOnlyList<string>? mountpoints)
    {
        VssFreezer vss = RequireVss();

        // Set before freezing: the agent must not block itself on a write to a frozen volume.
        Gate.SetFrozen();
        try
        {
            return Done<long>(vss.Freeze(mountpoints));
        }
        catch (AgentCommandException)
        {
            try
            {
                vss.Thaw();
            }
            catch (AgentCommandException)
            {
                // qemu-ga only logs the cleanup thaw's error; the freeze error is the answer.
            }

            Gate.UnsetFrozen();
            throw;
        }
    }

    public override ValueTask<long> GuestFsfreezeThawAsync(CancellationToken cancellationToken)
    {
        VssFreezer vss = RequireVss();
        try
        {
            return Done<long>(vss.Thaw());
        }
        finally
        {
            Gate.UnsetFrozen();
        }
    }

    // qemu-ga disables the VSS commands (and guest-get-fsinfo) when vss_init fails.
    private VssFreezer RequireVss() => _vss.Value ?? throw AgentCommandException.Unsupported();
}
