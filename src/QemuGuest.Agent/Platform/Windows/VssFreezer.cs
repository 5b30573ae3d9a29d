using System;
using System.Collections.Generic;
using QemuGuest.Agent.Core;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>A volume VSS can snapshot: its \\?\Volume{GUID}\ name and what errors call it.</summary>
internal readonly record struct VssVolume(string Name, string DisplayName);

/// <summary>
/// The Win32/COM calls of one VSS backup, one method per IVssBackupComponents step (asynchronous
/// steps include qemu-ga's WaitForAsync). <see cref="WindowsVss"/> is the real one; the unit
/// tests script one to walk <see cref="VssFreezer"/> through every branch on Linux.
/// </summary>
internal interface IVssBackend
{
    /// <summary>True when qemu-ga's own provider (qga-vss.dll) is registered with VSS.</summary>
    bool QgaProviderRegistered { get; }

    int CreateComponents();

    int InitializeForBackup();

    /// <summary>SetBackupState(select components, bootable system state, VSS_BT_FULL, no partial files).</summary>
    int SetBackupState();

    int SetContext(int context);

    int GatherWriterMetadata();

    /// <summary>qemu-ga's AddComponents: every selectable component of every writer; the error text or null.</summary>
    string? AddComponents();

    int StartSnapshotSet();

    /// <summary>The fixed-drive volumes (GetDriveTypeW == DRIVE_FIXED), in FindFirstVolumeW order.</summary>
    IReadOnlyList<VssVolume> FixedVolumes();

    /// <summary>GetVolumeNameForVolumeMountPointW, or null when the path is no mount point.</summary>
    string? VolumeForMountPoint(string mountPoint);

    int AddToSnapshotSet(string volumeName, Guid providerId);

    int PrepareForBackup();

    int GatherWriterStatus();

    /// <summary>Starts DoSnapshotSet and keeps its IVssAsync.</summary>
    int DoSnapshotSet();

    /// <summary>IVssAsync::QueryStatus on the snapshot: the call's HRESULT, the operation's in <paramref name="status"/>.</summary>
    int QuerySnapshotStatus(out int status);

    /// <summary>Creates the provider's named events (Global\QGAVSSEvent-*); the error text or null.</summary>
    string? CreateProviderEvents();

    bool WaitFrozen(int milliseconds);

    void SignalThaw();

    bool TimeoutSignaled();

    /// <summary>WaitForAsync on the snapshot operation (bounded by the provider's own 10 s hold).</summary>
    int WaitSnapshot();

    int BackupComplete();

    void AbortBackup();

    /// <summary>requester_cleanup: closes the events, releases the COM objects (which deletes a non-persistent snapshot).</summary>
    void Release();

    /// <summary>The system's text for an HRESULT, as g_win32_error_message gives it.</summary>
    string ErrorText(int hr);
}

/// <summary>
/// qemu-ga's requester_freeze / requester_thaw (qga/vss-win32/requester.cpp) as a state machine
/// over <see cref="IVssBackend"/>, with qemu-ga's error texts and timeouts.
///
/// Two modes. When qemu-ga's VSS provider is registered, its sequence is followed exactly: the
/// snapshot set goes to that provider, whose CommitSnapshots signals "frozen" and holds the
/// writes until thaw (at most 10 s, VSS's limit). Without it (this agent ships no provider DLL)
/// the system provider takes a real, non-persistent snapshot: writers and filesystems are
/// quiesced and flushed while the freeze command runs, but writes resume before it returns, so
/// a host snapshot taken between freeze and thaw is not application-consistent. The snapshot
/// is released (deleted) at thaw.
/// </summary>
internal sealed class VssFreezer
{
    /// <summary>qemu-ga's VSS_TIMEOUT_FREEZE_MSEC: VSS holds writes for 10 s at most.</summary>
    public const int FreezeTimeoutMs = 10_000;

    /// <summary>qemu-ga's VSS_TIMEOUT_EVENT_MSEC: QueryStatus every 10 ms keeps the provider going.</summary>
    public const int EventPollMs = 10;

    /// <summary>Requester-only: how long a whole snapshot may take (VSS's own writer timeout is 60 s).</summary>
    public const int SnapshotTimeoutMs = 60_000;

    /// <summary>qemu-ga's provider id, g_gProviderId.</summary>
    public static readonly Guid QgaProviderId = new("3629d4ed-ee09-4e0e-9a5c-6d8ba2872aef");

    public const int S_OK = 0;
    public const int E_FAIL = unchecked((int)0x80004005);
    public const int VSS_S_ASYNC_PENDING = 0x00042309;
    public const int VSS_S_ASYNC_FINISHED = 0x0004230A;
    public const int VSS_E_OBJECT_NOT_FOUND = unchecked((int)0x80042308);
    public const int VSS_E_UNEXPECTED_PROVIDER_ERROR = unchecked((int)0x8004230F);
    public const int VSS_E_HOLD_WRITES_TIMEOUT = unchecked((int)0x80042314);
    public const int VSS_E_UNSUPPORTED_CONTEXT = unchecked((int)0x8004231B);

    /// <summary>qemu-ga's context: app rollback, transportable, no autorecovery, TxF recovery.</summary>
    public const int ProviderContext = 0x9 | 0x20 | 0x2 | 0x02000000;

    public const int TransportableAttribute = 0x20;

    /// <summary>VSS_CTX_BACKUP: non-persistent, released with the backup components.</summary>
    public const int RequesterOnlyContext = 0;

    private readonly IVssBackend _vss;
    private readonly object _gate = new();
    private bool _active;
    private bool _providerMode;
    private int _frozenVolumes;

    public VssFreezer(IVssBackend vss)
    {
        _vss = vss;
    }

    /// <summary>True between a successful freeze and its thaw.</summary>
    public bool IsActive
    {
        get
        {
            lock (_gate)
            {
                return _active;
            }
        }
    }

    /// <summary>True when the last freeze went through qemu-ga's provider (real hold of writes).</summary>
    public bool HoldsWrites
    {
        get
        {
            lock (_gate)
            {
                return _active && _providerMode;
            }
        }
    }

    /// <summary>requester_freeze: the number of volumes in the snapshot set, 0 when already frozen.</summary>
    public int Freeze(IReadOnlyList<string>? mountPoints)
    {
        lock (_gate)
        {
            if (_active)
            {
                return 0;
            }

            try
            {
                int n = FreezeLocked(mountPoints);
                return n;
            }
            catch
            {
                _vss.AbortBackup();
                _vss.Release();
                _active = false;
                throw;
            }
        }
    }

    private int FreezeLocked(IReadOnlyList<string>? mountPoints)
    {
        _providerMode = _vss.QgaProviderRegistered;
        if (_providerMode && _vss.CreateProviderEvents() is string eventError)
        {
            throw new AgentCommandException(eventError);
        }

        Check(_vss.CreateComponents(), "failed to create VSS backup components");
        Check(_vss.InitializeForBackup(), "failed to initialize for backup");
        Check(_vss.SetBackupState(), "failed to set backup state");

        int context = _providerMode ? ProviderContext : RequesterOnlyContext;
        int hr = _vss.SetContext(context);
        if (hr == VSS_E_UNSUPPORTED_CONTEXT && _providerMode)
        {
            // Client editions of Windows refuse transportable snapshots.
            hr = _vss.SetContext(context & ~TransportableAttribute);
        }

        Check(hr, "failed to set backup context");
        Check(_vss.GatherWriterMetadata(), "failed to gather writer metadata");
        if (_vss.AddComponents() is string componentError)
        {
            throw new AgentCommandException(componentError);
        }

        Check(_vss.StartSnapshotSet(), "failed to start snapshot set");

        Guid provider = _providerMode ? QgaProviderId : Guid.Empty;
        int volumes = 0;
        if (mountPoints is { Count: > 0 })
        {
            foreach (string mountPoint in mountPoints)
            {
                string withSlash = mountPoint.EndsWith('\\') ? mountPoint : mountPoint + "\\";
                string? volume = _vss.VolumeForMountPoint(withSlash);
                if (volume is null)
                {
                    throw new AgentCommandException("failed to add " + mountPoint + " to snapshot set: no volume is mounted there");
                }

                Check(_vss.AddToSnapshotSet(volume, provider), "failed to add " + mountPoint + " to snapshot set");
                volumes++;
            }
        }
        else
        {
            foreach (VssVolume v in _vss.FixedVolumes())
            {
                Check(_vss.AddToSnapshotSet(v.Name, provider), "failed to add " + v.DisplayName + " to snapshot set");
                volumes++;
            }
        }

        if (volumes == 0)
        {
            // qemu-ga: no fixed drive, nothing to freeze, no error.
            _vss.AbortBackup();
            _vss.Release();
            return 0;
        }

        Check(_vss.PrepareForBackup(), "failed to prepare for backup");
        Check(_vss.GatherWriterStatus(), "failed to gather writer status");
        Check(_vss.DoSnapshotSet(), "failed to do snapshot set");

        if (_providerMode)
        {
            WaitForFrozenEvent();
        }
        else
        {
            WaitForSnapshot();
        }

        _active = true;
        _frozenVolumes = volumes;
        return volumes;
    }

    private void WaitForFrozenEvent()
    {
        // The provider only progresses while the requester keeps calling QueryStatus.
        for (int i = 0; i < FreezeTimeoutMs / EventPollMs; i++)
        {
            int callHr = _vss.QuerySnapshotStatus(out int status);
            if (callHr < 0)
            {
                throw Error(status, "failed to do snapshot set");
            }

            if (status != VSS_S_ASYNC_PENDING)
            {
                throw Error(E_FAIL, "DoSnapshotSet exited without Frozen event");
            }

            if (_vss.WaitFrozen(EventPollMs))
            {
                return;
            }
        }

        throw Error(E_FAIL, "couldn't receive Frozen event from VSS provider");
    }

    private void WaitForSnapshot()
    {
        for (int waited = 0; waited < SnapshotTimeoutMs; waited += EventPollMs)
        {
            int callHr = _vss.QuerySnapshotStatus(out int status);
            if (callHr < 0)
            {
                throw Error(callHr, "failed to do snapshot set");
            }

            if (status == VSS_S_ASYNC_FINISHED)
            {
                return;
            }

            if (status != VSS_S_ASYNC_PENDING)
            {
                throw Error(status, "failed to do snapshot set");
            }

            _vss.WaitFrozen(EventPollMs);
        }

        throw new AgentCommandException("failed to do snapshot set: VSS did not finish the snapshot within " + (SnapshotTimeoutMs / 1000) + " seconds");
    }

    /// <summary>requester_thaw: the number of volumes frozen, 0 when nothing was (no error then).</summary>
    public int Thaw()
    {
        lock (_gate)
        {
            if (!_active)
            {
                return 0;
            }

            int volumes = _frozenVolumes;
            string? error = null;
            int hr = S_OK;
            if (_providerMode)
            {
                _vss.SignalThaw();
                hr = _vss.WaitSnapshot();
            }
            else
            {
                hr = VSS_S_ASYNC_FINISHED;
            }

            switch (hr)
            {
                case VSS_S_ASYNC_FINISHED:
                    int done = _vss.BackupComplete();
                    if (done < 0)
                    {
                        error = ErrorText(done, "failed to complete backup");
                    }

                    break;
                case VSS_E_OBJECT_NOT_FOUND:
                    // Windows before 2008 SP2 cannot skip the final commit; it was frozen until now anyway.
                    _vss.AbortBackup();
                    break;
                case VSS_E_UNEXPECTED_PROVIDER_ERROR when !_vss.TimeoutSignaled():
                    error = ErrorText(hr, "unexpected error in VSS provider");
                    break;
                case VSS_E_UNEXPECTED_PROVIDER_ERROR:
                case VSS_E_HOLD_WRITES_TIMEOUT:
                    error = ErrorText(hr, "couldn't hold writes: fsfreeze is limited up to 10 seconds");
                    break;
                default:
                    error = ErrorText(hr, "failed to do snapshot set");
                    break;
            }

            if (error is not null)
            {
                _vss.AbortBackup();
            }

            _vss.Release();
            _active = false;
            _frozenVolumes = 0;
            if (error is not null)
            {
                throw new AgentCommandException(error);
            }

            return volumes;
        }
    }

    private void Check(int hr, string message)
    {
        if (hr < 0)
        {
            throw Error(hr, message);
        }
    }

    private AgentCommandException Error(int hr, string message) => new(ErrorText(hr, message));

    private string ErrorText(int hr, string message) => WindowsMapping.Win32Error(message, _vss.ErrorText(hr));
}
