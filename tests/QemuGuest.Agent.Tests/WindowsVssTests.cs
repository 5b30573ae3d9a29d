using System;
using System.Collections.Generic;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Platform.Windows;

namespace QemuGuest.Agent.Tests;

/// <summary>
/// VssFreezer's freeze/thaw sequence, timeouts and error texts (qemu-ga's requester.cpp), driven
/// through a scripted IVssBackend: the state machine is the portable part; the COM calls behind
/// the real backend only run on Windows.
/// </summary>
public sealed class WindowsVssTests
{
    /// <summary>Records every step; each step's HRESULT can be scripted.</summary>
    private sealed class ScriptedVss : IVssBackend
    {
        public List<string> Calls { get; } = new();

        public Dictionary<string, int> Results { get; } = new();

        public bool QgaProviderRegistered { get; set; }

        public List<VssVolume> Volumes { get; } = new() { new VssVolume("\\\\?\\Volume{c}\\", "C:\\"), new VssVolume("\\\\?\\Volume{d}\\", "D:\\") };

        public Dictionary<string, string> MountPoints { get; } = new() { ["C:\\"] = "\\\\?\\Volume{c}\\" };

        /// <summary>Snapshot QueryStatus answers, in order; the last repeats.</summary>
        public List<int> SnapshotStatus { get; } = new() { VssFreezer.VSS_S_ASYNC_FINISHED };

        public int FrozenAfterPolls { get; set; } = 3;

        public bool TimeoutEvent { get; set; }

        public int WaitSnapshotResult { get; set; } = VssFreezer.VSS_S_ASYNC_FINISHED;

        public int Polls { get; private set; }

        public string? ComponentError { get; set; }

        private int Step(string name)
        {
            Calls.Add(name);
            return Results.TryGetValue(name, out int hr) ? hr : 0;
        }

        public int CreateComponents() => Step("create");

        public int InitializeForBackup() => Step("initialize");

        public int SetBackupState() => Step("backupstate");

        public int SetContext(int context) => Step("context 0x" + context.ToString("x", System.Globalization.CultureInfo.InvariantCulture));

        public int GatherWriterMetadata() => Step("metadata");

        public string? AddComponents()
        {
            Calls.Add("components");
            return ComponentError;
        }

        public int StartSnapshotSet() => Step("startset");

        public IReadOnlyList<VssVolume> FixedVolumes() => Volumes;

        public string? VolumeForMountPoint(string mountPoint) => MountPoints.TryGetValue(mountPoint, out string? v) ? v : null;

        public int AddToSnapshotSet(string volumeName, Guid providerId) => Step("add " + volumeName + (providerId == Guid.Empty ? " system" : " qga"));

        public int PrepareForBackup() => Step("prepare");

        public int GatherWriterStatus() => Step("status");

        public int DoSnapshotSet() => Step("snapshot");

        public int QuerySnapshotStatus(out int status)
        {
            status = SnapshotStatus[Math.Min(Polls, SnapshotStatus.Count - 1)];
            Polls++;
            return 0;
        }

        public string? CreateProviderEvents()
        {
            Calls.Add("events");
            return null;
        }

        public bool WaitFrozen(int milliseconds) => Polls >= FrozenAfterPolls;

        public void SignalThaw() => Calls.Add("signal-thaw");

        public bool TimeoutSignaled() => TimeoutEvent;

        public int WaitSnapshot()
        {
            Calls.Add("wait-snapshot");
            return WaitSnapshotResult;
        }

        public int BackupComplete() => Step("complete");

        public void AbortBackup() => Calls.Add("abort");

        public void Release() => Calls.Add("release");

        public string ErrorText(int hr) => "hr 0x" + hr.ToString("x8", System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void RequesterOnlyFreezeSnapshotsEveryFixedVolumeAndThawCompletesTheBackup()
    {
        var vss = new ScriptedVss();
        vss.SnapshotStatus.Clear();
        vss.SnapshotStatus.AddRange(new[] { VssFreezer.VSS_S_ASYNC_PENDING, VssFreezer.VSS_S_ASYNC_PENDING, VssFreezer.VSS_S_ASYNC_FINISHED });
        var freezer = new VssFreezer(vss);

        Assert.Equal(2, freezer.Freeze(null));
        Assert.True(freezer.IsActive);
        Assert.False(freezer.HoldsWrites);
        Assert.Equal(
            new[] { "create", "initialize", "backupstate", "context 0x0", "metadata", "components", "startset", "add \\\\?\\Volume{c}\\ system", "add \\\\?\\Volume{d}\\ system", "prepare", "status", "snapshot" },
            vss.Calls);
        Assert.Equal(3, vss.Polls);

        Assert.Equal(0, freezer.Freeze(null)); // already frozen: qemu-ga answers 0
        vss.Calls.Clear();
        Assert.Equal(2, freezer.Thaw());
        Assert.Equal(new[] { "complete", "release" }, vss.Calls);
        Assert.False(freezer.IsActive);
        Assert.Equal(0, freezer.Thaw()); // nothing frozen: 0, no error
    }

    [Fact]
    public void ProviderModeWaitsForTheFrozenEventAndThawSignalsTheProvider()
    {
        var vss = new ScriptedVss { QgaProviderRegistered = true, FrozenAfterPolls = 5 };
        vss.SnapshotStatus.Clear();
        vss.SnapshotStatus.Add(VssFreezer.VSS_S_ASYNC_PENDING);
        vss.Results["context 0x" + VssFreezer.ProviderContext.ToString("x", System.Globalization.CultureInfo.InvariantCulture)] = VssFreezer.VSS_E_UNSUPPORTED_CONTEXT;
        var freezer = new VssFreezer(vss);

        Assert.Equal(1, freezer.Freeze(new[] { "C:" }));
        Assert.True(freezer.HoldsWrites);
        Assert.Equal("events", vss.Calls[0]);
        // Client Windows refuses transportable snapshots: qemu-ga retries without that bit.
        Assert.Contains("context 0x" + (VssFreezer.ProviderContext & ~VssFreezer.TransportableAttribute).ToString("x", System.Globalization.CultureInfo.InvariantCulture), vss.Calls);
        Assert.Contains("add \\\\?\\Volume{c}\\ qga", vss.Calls);
        Assert.Equal(5, vss.Polls);

        vss.Calls.Clear();
        Assert.Equal(1, freezer.Thaw());
        Assert.Equal(new[] { "signal-thaw", "wait-snapshot", "complete", "release" }, vss.Calls);
    }

    [Fact]
    public void ProviderThatNeverSignalsTimesOutAfterTenSeconds()
    {
        var vss = new ScriptedVss { QgaProviderRegistered = true, FrozenAfterPolls = int.MaxValue };
        vss.SnapshotStatus.Clear();
        vss.SnapshotStatus.Add(VssFreezer.VSS_S_ASYNC_PENDING);
        var freezer = new VssFreezer(vss);

        var ex = Assert.Throws<AgentCommandException>(() => freezer.Freeze(null));
        Assert.Equal("couldn't receive Frozen event from VSS provider: hr 0x80004005", ex.Message);
        Assert.Equal(VssFreezer.FreezeTimeoutMs / VssFreezer.EventPollMs, vss.Polls);
        Assert.Equal(new[] { "abort", "release" }, vss.Calls.GetRange(vss.Calls.Count - 2, 2));
        Assert.False(freezer.IsActive);
    }

    [Fact]
    public void SnapshotEndingBeforeTheFrozenEventIsAnError()
    {
        var vss = new ScriptedVss { QgaProviderRegistered = true, FrozenAfterPolls = int.MaxValue };
        vss.SnapshotStatus.Clear();
        vss.SnapshotStatus.Add(VssFreezer.VSS_S_ASYNC_FINISHED);
        var ex = Assert.Throws<AgentCommandException>(() => new VssFreezer(vss).Freeze(null));
        Assert.Equal("DoSnapshotSet exited without Frozen event: hr 0x80004005", ex.Message);
    }

    [Fact]
    public void RequesterOnlySnapshotThatNeverFinishesIsBounded()
    {
        var vss = new ScriptedVss();
        vss.SnapshotStatus.Clear();
        vss.SnapshotStatus.Add(VssFreezer.VSS_S_ASYNC_PENDING);
        var ex = Assert.Throws<AgentCommandException>(() => new VssFreezer(vss).Freeze(null));
        Assert.Equal("failed to do snapshot set: VSS did not finish the snapshot within 60 seconds", ex.Message);
        Assert.Equal(VssFreezer.SnapshotTimeoutMs / VssFreezer.EventPollMs, vss.Polls);
        Assert.Contains("abort", vss.Calls);
    }

    [Theory]
    [InlineData("create", "failed to create VSS backup components")]
    [InlineData("initialize", "failed to initialize for backup")]
    [InlineData("backupstate", "failed to set backup state")]
    [InlineData("context 0x0", "failed to set backup context")]
    [InlineData("metadata", "failed to gather writer metadata")]
    [InlineData("startset", "failed to start snapshot set")]
    [InlineData("add \\\\?\\Volume{d}\\ system", "failed to add D:\\ to snapshot set")]
    [InlineData("prepare", "failed to prepare for backup")]
    [InlineData("status", "failed to gather writer status")]
    [InlineData("snapshot", "failed to do snapshot set")]
    public void EveryFailingStepAbortsWithQemuGasText(string step, string message)
    {
        var vss = new ScriptedVss();
        vss.Results[step] = unchecked((int)0x80042302);
        var freezer = new VssFreezer(vss);
        var ex = Assert.Throws<AgentCommandException>(() => freezer.Freeze(null));
        Assert.Equal(message + ": hr 0x80042302", ex.Message);
        Assert.Equal(new[] { "abort", "release" }, vss.Calls.GetRange(vss.Calls.Count - 2, 2));
        Assert.False(freezer.IsActive);
    }

    [Fact]
    public void ComponentErrorsAndUnknownMountPoints()
    {
        var vss = new ScriptedVss { ComponentError = "failed to get writer metadata count: boom" };
        Assert.Equal("failed to get writer metadata count: boom", Assert.Throws<AgentCommandException>(() => new VssFreezer(vss).Freeze(null)).Message);

        var vss2 = new ScriptedVss();
        var ex = Assert.Throws<AgentCommandException>(() => new VssFreezer(vss2).Freeze(new[] { "Q:\\nowhere" }));
        Assert.Equal("failed to add Q:\\nowhere to snapshot set: no volume is mounted there", ex.Message);
    }

    [Fact]
    public void NoFixedVolumeFreezesNothing()
    {
        var vss = new ScriptedVss();
        vss.Volumes.Clear();
        var freezer = new VssFreezer(vss);
        Assert.Equal(0, freezer.Freeze(null));
        Assert.False(freezer.IsActive);
        Assert.DoesNotContain("snapshot", vss.Calls);
    }

    [Theory]
    [InlineData(VssFreezer.VSS_E_HOLD_WRITES_TIMEOUT, false, "couldn't hold writes: fsfreeze is limited up to 10 seconds")]
    [InlineData(VssFreezer.VSS_E_UNEXPECTED_PROVIDER_ERROR, true, "couldn't hold writes: fsfreeze is limited up to 10 seconds")]
    [InlineData(VssFreezer.VSS_E_UNEXPECTED_PROVIDER_ERROR, false, "unexpected error in VSS provider")]
    [InlineData(unchecked((int)0x80042302), false, "failed to do snapshot set")]
    public void ThawErrorsFromTheProvider(int hr, bool timeoutEvent, string message)
    {
        var vss = new ScriptedVss { QgaProviderRegistered = true, FrozenAfterPolls = 1, TimeoutEvent = timeoutEvent, WaitSnapshotResult = hr };
        vss.SnapshotStatus.Clear();
        vss.SnapshotStatus.Add(VssFreezer.VSS_S_ASYNC_PENDING);
        var freezer = new VssFreezer(vss);
        freezer.Freeze(null);
        vss.Calls.Clear();
        var ex = Assert.Throws<AgentCommandException>(() => freezer.Thaw());
        Assert.Equal(message + ": hr 0x" + hr.ToString("x8", System.Globalization.CultureInfo.InvariantCulture), ex.Message);
        Assert.Equal(new[] { "signal-thaw", "wait-snapshot", "abort", "release" }, vss.Calls);
        Assert.False(freezer.IsActive);
    }

    [Fact]
    public void ThawOnOldWindowsIgnoresObjectNotFound()
    {
        var vss = new ScriptedVss { QgaProviderRegistered = true, FrozenAfterPolls = 1, WaitSnapshotResult = VssFreezer.VSS_E_OBJECT_NOT_FOUND };
        vss.SnapshotStatus.Clear();
        vss.SnapshotStatus.Add(VssFreezer.VSS_S_ASYNC_PENDING);
        var freezer = new VssFreezer(vss);
        Assert.Equal(2, freezer.Freeze(null));
        Assert.Equal(2, freezer.Thaw());
        Assert.Contains("abort", vss.Calls);
    }
}
