using System;
using System.Diagnostics;
using System.IO;
using Microsoft.Extensions.Logging;
using QemuGuest.Agent.Configuration;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers;
using QemuGuest.Agent.Hosting;
using QemuGuest.Agent.Platform.Linux;
using QemuGuest.Agent.Platform.Windows;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Agent;

/// <summary>Entry point: qemu-ga's command line, then <see cref="AgentHost"/> running <see cref="AgentService"/>.</summary>
public static class Program
{
    private const string DaemonChildVariable = "QEMUGUEST_AGENT_DAEMON_CHILD";

    public static int Main(string[] args)
    {
        CommandLineResult cl = CommandLine.Parse(args, Environment.GetEnvironmentVariable, ReadFileOrNull);
        Console.Out.Write(cl.Stdout);
        Console.Error.Write(cl.Stderr);
        if (cl.Action == CommandLineAction.Exit)
        {
            return cl.ExitCode;
        }

        QgaPlatform platform = AgentContext.DetectPlatform();
        if (cl.Action == CommandLineAction.ListCommands)
        {
            foreach (QgaCommandInfo c in QgaCommandTable.All)
            {
                if (c.IsAvailableOn(platform))
                {
                    Console.Out.WriteLine(c.Name);
                }
            }

            return 0;
        }

        AgentConfig config = cl.Config;
        int listenFds = OperatingSystem.IsLinux() ? LinuxFdListenChannel.ListenFds() : 0;
        string? error = config.Finish(listenFds, () => OperatingSystem.IsLinux() ? LinuxFdListenChannel.ActivationMethod() : null)
            ?? CommandGate.ListProblem(config.AllowedRpcs, config.BlockedRpcs);
        if (error is not null)
        {
            Critical(error);
            return 1;
        }

        if (config.DumpConf)
        {
            Console.Out.Write(config.Dump());
            return 0;
        }

        if (config.Service is not null)
        {
            return OperatingSystem.IsWindows() ? WindowsServiceInstaller.Run(config, args) : 1;
        }

        if (config.Method is not (AgentConfig.MethodVirtioSerial or AgentConfig.MethodIsaSerial or AgentConfig.MethodUnixListen or AgentConfig.MethodVsockListen))
        {
            Critical("unsupported channel method/type: " + config.Method);
            Critical("failed to initialize guest agent channel");
            return 1;
        }

        if (config.Daemonize && !OperatingSystem.IsWindows() && Environment.GetEnvironmentVariable(DaemonChildVariable) != "1")
        {
            return Daemonize(args);
        }

        return RunAgent(config, platform);
    }

    /// <summary>
    /// The pid file under a random O_EXCL|O_NOFOLLOW name renamed into place: a link planted at
    /// the name (or at a fixed temp name) is replaced, never written through.
    /// </summary>
    private static void WritePidFile(string path)
    {
        byte[] text = System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");
        if (!OperatingSystem.IsLinux())
        {
            File.WriteAllBytes(path, text);
            return;
        }

        using PosixFs.Fd dir = PosixFs.OpenParent(path, out string leaf);
        PosixFs.WriteFileAtomic(dir, leaf, text, 0x1A4 /* 0644 */, null, null, path);
    }

    private static int RunAgent(AgentConfig config, QgaPlatform platform)
    {
        TextWriter logWriter = Console.Error;
        if (config.LogFile is not null)
        {
            try
            {
                logWriter = new StreamWriter(OperatingSystem.IsLinux()
                    ? PosixFs.OpenLogForAppend(config.LogFile)
                    : new FileStream(config.LogFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Core.AgentCommandException)
            {
                Critical("unable to open specified log file: " + ex.Message);
                return 1;
            }
        }

        string stateDir = config.StateDir!;
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(stateDir);
        }

        var gate = new CommandGate(config.AllowedRpcs, config.BlockedRpcs, Path.Combine(stateDir, "qga.state.isfrozen"));
        using var logProvider = new QgaLoggerProvider(logWriter, config.Verbose ? LogLevel.Debug : LogLevel.Warning) { Suspended = () => gate.IsFrozen };
        ILogger log = logProvider.CreateLogger<AgentService>();
        foreach (string warning in gate.Warnings())
        {
            AgentLog.PolicyWarning(log, warning);
        }

        if (gate.IsFrozen)
        {
            AgentLog.PreviouslyFrozen(log, Path.Combine(stateDir, "qga.state.isfrozen"));
        }

        var state = new PersistentState(Path.Combine(stateDir, "qga.state"));
        string? stateError = state.Load(gate.IsFrozen);
        if (stateError is not null)
        {
            AgentLog.StateLoadFailed(log, state.FilePath, stateError);
            AgentLog.StartFailed(log, "failed to load persistent state");
            return 1;
        }

        if (config.Daemonize && config.PidFile is not null && !OperatingSystem.IsWindows())
        {
            try
            {
                WritePidFile(config.PidFile);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Core.AgentCommandException)
            {
                AgentLog.PidFileFailed(log, config.PidFile, ex.Message);
                return 1;
            }
        }

        CommandHandler handler = PlatformFactory.CreateHandler(config, state, gate, platform, logProvider);
        var dispatcher = new GeneratedDispatcher(handler, platform);
        var processor = new RequestProcessor(dispatcher, gate, logProvider.CreateLogger<RequestProcessor>(), handler.Context.Bulk);

        using var service = new AgentService(config, () => PlatformFactory.CreateChannel(config), processor, logProvider.CreateLogger<AgentService>());

        AgentLog.Starting(log, AgentInfo.Version, config.Method!, config.ChannelPath, stateDir);
        try
        {
            AgentHost.Run(service.RunAsync);
        }
        finally
        {
            AgentLog.Stopping(log);
            if (config.Daemonize && config.PidFile is not null)
            {
                try
                {
                    File.Delete(config.PidFile);
                }
                catch (IOException)
                {
                }
            }

            logWriter.Flush();
        }

        return AgentService.ExitCode;
    }

    /// <summary>
    /// -d: .NET cannot fork, so the agent starts itself again detached (new session, stdio on
    /// /dev/null) and the parent exits 0 once the child runs; the child writes the pidfile.
    /// </summary>
    private static int Daemonize(string[] args)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath!)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "qemuguest-agent.dll"));
        }

        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment[DaemonChildVariable] = "1";
        using Process? child = Process.Start(psi);
        if (child is null)
        {
            Critical("failed to daemonize");
            return 1;
        }

        child.StandardInput.Close();
        child.StandardOutput.Close();
        child.StandardError.Close();
        return 0;
    }

    private static string? ReadFileOrNull(string path)
    {
        // Most guests have no qemu-ga.conf: its absence must not cost every start an exception
        // (the first one maps the unwinder, its tables and the exception text's resources).
        // A directory still goes to ReadAllText, which refuses it as before.
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            return null;
        }

        try
        {
            return File.ReadAllText(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
    }

    private static void Critical(string message)
    {
        long us = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks / 10;
        Console.Error.WriteLine($"{us / 1000000}.{us % 1000000}: critical: {message}");
    }
}
