using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;
using System.Runtime.Versioning;

namespace QemuGuest.Agent.Platform.Windows;

// VSS's requester interfaces are C++ classes with IUnknown vtables (vsbackup.h). They are declared
// here in vtable order through source-generated COM so NativeAOT needs no runtime marshalling;
// slots this agent never calls keep placeholder parameters (only their position matters).

[GeneratedComInterface]
[Guid("507C37B4-CF5B-4e95-B0AF-14EB9767467E")]
internal partial interface IVssAsync
{
    [PreserveSig]
    int Cancel();

    [PreserveSig]
    int Wait(uint milliseconds);

    [PreserveSig]
    int QueryStatus(out int result, nint reserved);
}

[GeneratedComInterface]
[Guid("156c8b5e-f131-4bd7-9c97-d1923be7e1fa")]
internal partial interface IVssWMComponent
{
    [PreserveSig]
    int GetComponentInfo(out nint info);

    [PreserveSig]
    int FreeComponentInfo(nint info);
}

[GeneratedComInterface]
[Guid("902fcf7f-b7fd-42f8-81f1-b2e400b1e5bd")]
internal partial interface IVssExamineWriterMetadata
{
    [PreserveSig]
    int GetIdentity(out Guid instanceId, out Guid writerId, out nint writerName, out int usage, out int source);

    [PreserveSig]
    int GetFileCounts(out uint includeFiles, out uint excludeFiles, out uint components);

    [PreserveSig]
    int GetIncludeFile(uint index, out nint file);

    [PreserveSig]
    int GetExcludeFile(uint index, out nint file);

    [PreserveSig]
    int GetComponent(uint index, out IVssWMComponent component);
}

[GeneratedComInterface(StringMarshalling = StringMarshalling.Utf16)]
[Guid("665c1d5f-c218-414d-a05d-7fef5f9d5c86")]
internal partial interface IVssBackupComponents
{
    [PreserveSig] int GetWriterComponentsCount(out uint count);                                        // 3
    [PreserveSig] int GetWriterComponents(uint index, out nint writer);                                // 4
    [PreserveSig] int InitializeForBackup(nint xml);                                                   // 5
    [PreserveSig] int SetBackupState([MarshalAs(UnmanagedType.U1)] bool selectComponents, [MarshalAs(UnmanagedType.U1)] bool bootableSystemState, int backupType, [MarshalAs(UnmanagedType.U1)] bool partialFileSupport); // 6
    [PreserveSig] int InitializeForRestore(nint xml);                                                  // 7
    [PreserveSig] int SetRestoreState(int restoreType);                                                // 8
    [PreserveSig] int GatherWriterMetadata(out IVssAsync async);                                       // 9
    [PreserveSig] int GetWriterMetadataCount(out uint count);                                          // 10
    [PreserveSig] int GetWriterMetadata(uint index, out Guid instanceId, out IVssExamineWriterMetadata metadata); // 11
    [PreserveSig] int FreeWriterMetadata();                                                            // 12
    [PreserveSig] int AddComponent(Guid instanceId, Guid writerId, int componentType, nint logicalPath, nint componentName); // 13
    [PreserveSig] int PrepareForBackup(out IVssAsync async);                                           // 14
    [PreserveSig] int AbortBackup();                                                                   // 15
    [PreserveSig] int GatherWriterStatus(out IVssAsync async);                                         // 16
    [PreserveSig] int GetWriterStatusCount(out uint count);                                            // 17
    [PreserveSig] int FreeWriterStatus();                                                              // 18
    [PreserveSig] int GetWriterStatus(uint index, nint instanceId, nint writerId, nint name, nint state, nint failure); // 19
    [PreserveSig] int SetBackupSucceeded(nint a, nint b, nint c, nint d, nint e, nint f);              // 20
    [PreserveSig] int SetBackupOptions(nint a, nint b, nint c, nint d, nint e);                        // 21
    [PreserveSig] int SetSelectedForRestore(nint a, nint b, nint c, nint d, nint e);                   // 22
    [PreserveSig] int SetRestoreOptions(nint a, nint b, nint c, nint d, nint e);                       // 23
    [PreserveSig] int SetAdditionalRestores(nint a, nint b, nint c, nint d, nint e);                   // 24
    [PreserveSig] int SetPreviousBackupStamp(nint a, nint b, nint c, nint d, nint e);                  // 25
    [PreserveSig] int SaveAsXML(nint xml);                                                             // 26
    [PreserveSig] int BackupComplete(out IVssAsync async);                                             // 27
    [PreserveSig] int AddAlternativeLocationMapping(nint a, nint b, nint c, nint d, nint e, nint f, nint g, nint h); // 28
    [PreserveSig] int AddRestoreSubcomponent(nint a, nint b, nint c, nint d, nint e, nint f, nint g);  // 29
    [PreserveSig] int SetFileRestoreStatus(nint a, nint b, nint c, nint d, nint e);                    // 30
    [PreserveSig] int AddNewTarget(nint a, nint b, nint c, nint d, nint e, nint f, nint g, nint h, nint i); // 31
    [PreserveSig] int SetRangesFilePath(nint a, nint b, nint c, nint d, nint e, nint f);               // 32
    [PreserveSig] int PreRestore(out nint async);                                                      // 33
    [PreserveSig] int PostRestore(out nint async);                                                     // 34
    [PreserveSig] int SetContext(int context);                                                         // 35
    [PreserveSig] int StartSnapshotSet(out Guid snapshotSetId);                                        // 36
    [PreserveSig] int AddToSnapshotSet(string volumeName, Guid providerId, out Guid snapshotId);       // 37
    [PreserveSig] int DoSnapshotSet(out IVssAsync async);                                              // 38
}

/// <summary>
/// The real <see cref="IVssBackend"/>: vssapi.dll's CreateVssBackupComponentsInternal and the
/// interfaces above, plus the kernel32 volume enumeration and qemu-ga's provider events.
/// </summary>
[SupportedOSPlatform("windows")]
internal sealed unsafe class WindowsVss : IVssBackend
{
    private const string ProviderKey = "SYSTEM\\CurrentControlSet\\Services\\VSS\\Providers\\{3629d4ed-ee09-4e0e-9a5c-6d8ba2872aef}";
    private const int VSS_BT_FULL = 1;
    private static readonly object SecurityGate = new();
    private static bool s_securityInitialized;

    private IVssBackupComponents? _components;
    private IVssAsync? _snapshot;
    private nint _eventFrozen;
    private nint _eventThaw;
    private nint _eventTimeout;

    public bool QgaProviderRegistered
    {
        get
        {
            if (Win32Native.RegOpenKeyEx(Win32Native.HKEY_LOCAL_MACHINE, ProviderKey, 0, Win32Native.KEY_READ, out nint key) != 0)
            {
                return false;
            }

            Win32Native.RegCloseKey(key);
            return true;
        }
    }

    /// <summary>Whether vssapi.dll loads at all (qemu-ga's vss_init); without it the fsfreeze commands are unsupported.</summary>
    public static bool Available()
    {
        if (!NativeLibrary.TryLoad("vssapi.dll", out nint lib))
        {
            return false;
        }

        bool found = NativeLibrary.TryGetExport(lib, "CreateVssBackupComponentsInternal", out _);
        NativeLibrary.Free(lib);
        return found;
    }

    public int CreateComponents()
    {
        InitializeSecurity();
        int hr = Win32Native.CreateVssBackupComponentsInternal(out nint raw);
        if (hr < 0)
        {
            return hr;
        }

        try
        {
            _components = (IVssBackupComponents)new StrategyBasedComWrappers().GetOrCreateObjectForComInstance(raw, CreateObjectFlags.UniqueInstance);
        }
        finally
        {
            Marshal.Release(raw);
        }

        return 0;
    }

    // requester_init: VSS calls back into the requester, which needs at least identify-level impersonation.
    private static void InitializeSecurity()
    {
        lock (SecurityGate)
        {
            if (s_securityInitialized)
            {
                return;
            }

            int hr = Win32Native.CoInitializeSecurity(0, -1, 0, 0, Win32Native.RPC_C_AUTHN_LEVEL_PKT_PRIVACY, Win32Native.RPC_C_IMP_LEVEL_IDENTIFY, 0, 0, 0);
            s_securityInitialized = hr >= 0 || hr == Win32Native.RPC_E_TOO_LATE;
        }
    }

    private IVssBackupComponents Components => _components ?? throw new InvalidOperationException("VSS backup components not created");

    public int InitializeForBackup() => Components.InitializeForBackup(0);

    public int SetBackupState() => Components.SetBackupState(true, true, VSS_BT_FULL, false);

    public int SetContext(int context) => Components.SetContext(context);

    public int GatherWriterMetadata()
    {
        int hr = Components.GatherWriterMetadata(out IVssAsync async);
        return hr < 0 ? hr : WaitForAsync(async, release: true);
    }

    public string? AddComponents()
    {
        int hr = Components.GetWriterMetadataCount(out uint writers);
        if (hr < 0)
        {
            return Error(hr, "failed to get writer metadata count");
        }

        for (uint i = 0; i < writers; i++)
        {
            hr = Components.GetWriterMetadata(i, out _, out IVssExamineWriterMetadata metadata);
            if (hr < 0)
            {
                return Error(hr, "failed to get writer metadata of " + i + "/" + writers);
            }

            try
            {
                hr = metadata.GetIdentity(out Guid instance, out Guid writer, out nint nameBstr, out _, out _);
                if (hr < 0)
                {
                    return Error(hr, "failed to get identity of writer " + i + "/" + writers);
                }

                string name = Marshal.PtrToStringBSTR(nameBstr);
                Marshal.FreeBSTR(nameBstr);
                hr = metadata.GetFileCounts(out _, out _, out uint count);
                if (hr < 0)
                {
                    return Error(hr, "failed to get file counts of " + name);
                }

                for (uint j = 0; j < count; j++)
                {
                    hr = metadata.GetComponent(j, out IVssWMComponent component);
                    if (hr < 0)
                    {
                        return Error(hr, "failed to get component " + j + "/" + count + " of " + name);
                    }

                    try
                    {
                        hr = component.GetComponentInfo(out nint infoPtr);
                        if (hr < 0)
                        {
                            return Error(hr, "failed to get component info " + j + "/" + count + " of " + name);
                        }

                        try
                        {
                            VssComponentInfo* info = (VssComponentInfo*)infoPtr;
                            if (info->Selectable != 0)
                            {
                                hr = Components.AddComponent(instance, writer, info->Type, info->LogicalPath, info->ComponentName);
                                if (hr < 0)
                                {
                                    return Error(hr, "failed to add component " + Marshal.PtrToStringBSTR(info->ComponentName) + "(" + name + ")");
                                }
                            }
                        }
                        finally
                        {
                            component.FreeComponentInfo(infoPtr);
                        }
                    }
                    finally
                    {
                        Release(component);
                    }
                }
            }
            finally
            {
                Release(metadata);
            }
        }

        return null;
    }

    public int StartSnapshotSet() => Components.StartSnapshotSet(out _);

    public IReadOnlyList<VssVolume> FixedVolumes()
    {
        var list = new List<VssVolume>();
        char* name = stackalloc char[64];
        nint find = Win32Native.FindFirstVolume(name, 64);
        if (find == Win32Native.INVALID_HANDLE_VALUE)
        {
            return list;
        }

        try
        {
            do
            {
                string volume = new(name);
                if (Win32Native.GetDriveType(volume) == Win32Native.DRIVE_FIXED)
                {
                    IReadOnlyList<string> paths = WindowsVolumes.PathNames(volume);
                    list.Add(new VssVolume(volume, paths.Count > 0 && paths[0].Length > 0 ? paths[0] : volume));
                }
            }
            while (Win32Native.FindNextVolume(find, name, 64));
        }
        finally
        {
            Win32Native.FindVolumeClose(find);
        }

        return list;
    }

    public string? VolumeForMountPoint(string mountPoint)
    {
        char* name = stackalloc char[64];
        return Win32Native.GetVolumeNameForVolumeMountPoint(mountPoint, name, 64) ? new string(name) : null;
    }

    public int AddToSnapshotSet(string volumeName, Guid providerId) => Components.AddToSnapshotSet(volumeName, providerId, out _);

    public int PrepareForBackup()
    {
        int hr = Components.PrepareForBackup(out IVssAsync async);
        return hr < 0 ? hr : WaitForAsync(async, release: true);
    }

    public int GatherWriterStatus()
    {
        int hr = Components.GatherWriterStatus(out IVssAsync async);
        return hr < 0 ? hr : WaitForAsync(async, release: true);
    }

    public int DoSnapshotSet()
    {
        int hr = Components.DoSnapshotSet(out IVssAsync async);
        if (hr >= 0)
        {
            _snapshot = async;
        }

        return hr;
    }

    public int QuerySnapshotStatus(out int status)
    {
        status = VssFreezer.E_FAIL;
        return _snapshot is null ? VssFreezer.E_FAIL : _snapshot.QueryStatus(out status, 0);
    }

    public string? CreateProviderEvents()
    {
        // The provider runs in another process (VSS's dllhost): the events get a NULL DACL like qemu-ga's.
        byte* descriptor = stackalloc byte[64];
        Win32Native.InitializeSecurityDescriptor(descriptor, 1);
        Win32Native.SetSecurityDescriptorDacl(descriptor, true, 0, false);
        var sa = new SecurityAttributes { Length = (uint)sizeof(SecurityAttributes), SecurityDescriptor = (nint)descriptor };
        _eventFrozen = Win32Native.CreateEvent(&sa, true, false, "Global\\QGAVSSEvent-frozen");
        if (_eventFrozen == 0)
        {
            return Error(Marshal.GetLastPInvokeError(), "failed to create event Global\\QGAVSSEvent-frozen");
        }

        _eventThaw = Win32Native.CreateEvent(&sa, true, false, "Global\\QGAVSSEvent-thaw");
        if (_eventThaw == 0)
        {
            return Error(Marshal.GetLastPInvokeError(), "failed to create event Global\\QGAVSSEvent-thaw");
        }

        _eventTimeout = Win32Native.CreateEvent(&sa, true, false, "Global\\QGAVSSEvent-timeout");
        if (_eventTimeout == 0)
        {
            return Error(Marshal.GetLastPInvokeError(), "failed to create event Global\\QGAVSSEvent-timeout");
        }

        return null;
    }

    public bool WaitFrozen(int milliseconds)
    {
        if (_eventFrozen == 0)
        {
            System.Threading.Thread.Sleep(milliseconds);
            return false;
        }

        return Win32Native.WaitForSingleObject(_eventFrozen, (uint)milliseconds) == Win32Native.WAIT_OBJECT_0;
    }

    public void SignalThaw()
    {
        if (_eventThaw != 0)
        {
            Win32Native.SetEvent(_eventThaw);
        }
    }

    public bool TimeoutSignaled() => _eventTimeout != 0 && Win32Native.WaitForSingleObject(_eventTimeout, 0) == Win32Native.WAIT_OBJECT_0;

    public int WaitSnapshot() => _snapshot is null ? VssFreezer.E_FAIL : WaitForAsync(_snapshot, release: false);

    public int BackupComplete()
    {
        int hr = Components.BackupComplete(out IVssAsync async);
        return hr < 0 ? hr : WaitForAsync(async, release: true);
    }

    public void AbortBackup() => _components?.AbortBackup();

    public void Release()
    {
        CloseEvent(ref _eventFrozen);
        CloseEvent(ref _eventThaw);
        CloseEvent(ref _eventTimeout);
        if (_snapshot is not null)
        {
            Release(_snapshot);
            _snapshot = null;
        }

        if (_components is not null)
        {
            // The last reference going away is what deletes a non-persistent snapshot: do it now, not at GC.
            Release(_components);
            _components = null;
        }
    }

    public string ErrorText(int hr) => Win32Native.ErrorText(hr);

    private static void CloseEvent(ref nint handle)
    {
        if (handle != 0)
        {
            Win32Native.CloseHandle(handle);
            handle = 0;
        }
    }

    private static void Release(object com)
    {
        if (com is ComObject o)
        {
            o.FinalRelease();
        }
    }

    private string Error(int hr, string message) => WindowsMapping.Win32Error(message, ErrorText(hr));

    // qemu-ga's WaitForAsync: Wait, then QueryStatus until it is no longer pending. Wait is
    // bounded per call so a stuck writer cannot hang the agent past VSS's own 60 s writer timeout.
    private static int WaitForAsync(IVssAsync async, bool release)
    {
        try
        {
            int result = VssFreezer.E_FAIL;
            for (int round = 0; round < 120; round++)
            {
                int hr = async.Wait(1000);
                if (hr < 0)
                {
                    return hr;
                }

                hr = async.QueryStatus(out result, 0);
                if (hr < 0)
                {
                    return hr;
                }

                if (result != VssFreezer.VSS_S_ASYNC_PENDING)
                {
                    return result;
                }
            }

            async.Cancel();
            return result;
        }
        finally
        {
            if (release)
            {
                Release(async);
            }
        }
    }
}
