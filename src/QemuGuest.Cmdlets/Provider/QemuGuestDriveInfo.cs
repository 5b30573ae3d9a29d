using System;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Sessions;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Cmdlets.Provider;

/// <summary>
/// A drive of the QemuGuest provider: one guest's file system below <see cref="GuestRoot"/>,
/// reached through one session (given with -Session, or found or opened for -VMName).
/// </summary>
/// <remarks>
/// PowerShell's own root of the drive is empty, so that the paths PowerShell keeps for the drive
/// are relative ("etc/hosts") and the provider makes them guest paths below
/// <see cref="GuestRoot"/>. With the guest root as PowerShell's root, a provider path started
/// with "/", and PowerShell hands such a path to the FileSystem provider when it names an item
/// that does not exist yet (LocationGlobber.GetDriveQualifiedPath takes it for a Unix path):
/// Set-Content web1:/srv/new.txt wrote /srv/new.txt on the host.
/// </remarks>
public sealed class QemuGuestDriveInfo : PSDriveInfo
{
    private readonly bool _ownsSession;
    private readonly SemaphoreSlim _engineLock = new(1, 1);
    private GuestTransferEngine? _engine;

    internal QemuGuestDriveInfo(PSDriveInfo drive, string root, GuestSession session, bool ownsSession, TimeSpan? timeout)
        : base(drive.Name, drive.Provider, string.Empty, drive.Description, drive.Credential)
    {
        GuestRoot = root;
        Session = session;
        _ownsSession = ownsSession;
        CallOptions = new QgaCallOptions();
        if (timeout is { } t)
        {
            CallOptions.Timeout = t;
        }
    }

    /// <summary>The guest folder the drive shows (-Root), in the guest's own form once the agent answered.</summary>
    public string GuestRoot { get; }

    /// <summary>The session the drive talks through.</summary>
    public GuestSession Session { get; }

    /// <summary>The VM (or session) name, as the items' VMName and error records carry it.</summary>
    public string VMName => Session.TargetName;

    internal QgaCallOptions CallOptions { get; }

    /// <summary>The transfer engine for this drive's session, made once (its agent profile is the session's).</summary>
    internal async Task<GuestTransferEngine> GetEngineAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _engine) is { } ready)
        {
            return ready;
        }
        await _engineLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return _engine ??= await GuestTransferEngine.OpenAsync(Session.Channel, Session.Facts, CallOptions, Session.TargetName, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _engineLock.Release();
        }
    }

    /// <summary>Closes the session when the drive opened it for -VMName (an open session given or found stays open).</summary>
    internal void Close()
    {
        if (_ownsSession)
        {
            Session.Dispose();
        }
    }
}
