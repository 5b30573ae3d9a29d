using System;
using System.Runtime.InteropServices;
using System.ServiceProcess;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Hosting.WindowsServices;
using QemuGuest.Agent.Platform.Windows;

namespace QemuGuest.Agent.Hosting;

/// <summary>
/// Runs the service loop as the process's whole life, with the three service behaviours the
/// generic host gave it (UseSystemd, UseWindowsService, the console lifetime) and without the
/// host itself: its dependency injection, configuration and options cost every agent start-up
/// time and resident memory for one loop that needs none of them (issue 19).
/// SIGTERM, SIGINT and SIGQUIT stop the loop; systemd hears READY=1 and STOPPING=1 when it set
/// NOTIFY_SOCKET (Type=notify); under the Windows service control manager the loop runs as the
/// service. A loop that ends on its own (channel unavailable without -r) ends the process.
/// </summary>
internal static class AgentHost
{
    /// <summary>How long a stop waits for the loop, as the generic host's default ShutdownTimeout.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(30);

    public static void Run(Func<CancellationToken, Task> loop)
    {
        if (OperatingSystem.IsWindows() && WindowsServiceHelpers.IsWindowsService())
        {
            using var service = new AgentWindowsService(loop);
            ServiceBase.Run(service);
            return;
        }

        using var stop = new CancellationTokenSource();
        Action<PosixSignalContext> onSignal = context =>
        {
            context.Cancel = true;
            stop.Cancel();
        };
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, onSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, onSignal);
        using var quit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, onSignal);

        var systemd = new SystemdNotifier();
        Task running = loop(stop.Token);
        if (systemd.IsEnabled)
        {
            systemd.Notify(ServiceState.Ready);
        }

        WaitForEnd(running, stop.Token);
        if (systemd.IsEnabled)
        {
            systemd.Notify(ServiceState.Stopping);
        }
    }

    /// <summary>Until the loop ends; once a stop is asked for, at most <see cref="ShutdownTimeout"/>.</summary>
    internal static void WaitForEnd(Task running, CancellationToken stop)
    {
        try
        {
            Task.WaitAny([running], stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            if (!running.Wait(ShutdownTimeout))
            {
                return;
            }
        }

        running.GetAwaiter().GetResult();
    }
}

/// <summary>The loop as a Windows service: started and stopped by the service control manager.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("windows")]
internal sealed class AgentWindowsService : ServiceBase
{
    private readonly Func<CancellationToken, Task> _loop;
    private readonly CancellationTokenSource _stop = new();
    private Task? _running;

    public AgentWindowsService(Func<CancellationToken, Task> loop)
    {
        _loop = loop;
        ServiceName = WindowsServiceInstaller.ServiceName;
        CanStop = true;
        CanShutdown = true;
    }

    protected override void OnStart(string[] args)
    {
        _running = _loop(_stop.Token);
        _running.ContinueWith(
            _ =>
            {
                if (!_stop.IsCancellationRequested)
                {
                    Stop();
                }
            },
            CancellationToken.None,
            TaskContinuationOptions.None,
            TaskScheduler.Default);
    }

    protected override void OnStop()
    {
        _stop.Cancel();
        _running?.Wait(AgentHost.ShutdownTimeout);
    }

    protected override void OnShutdown() => OnStop();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stop.Dispose();
        }

        base.Dispose(disposing);
    }
}
