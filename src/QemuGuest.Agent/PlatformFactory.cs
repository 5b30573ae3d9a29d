using System;
using QemuGuest.Agent.Channels;
using QemuGuest.Agent.Configuration;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers;
using QemuGuest.Agent.Handlers.Common;
using QemuGuest.Agent.Hosting;
using QemuGuest.Agent.Platform.Linux;
using QemuGuest.Agent.Platform.Windows;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Agent;

/// <summary>The one place that picks Linux or Windows implementations.</summary>
internal static class PlatformFactory
{
    public static CommandHandler CreateHandler(AgentConfig config, PersistentState state, CommandGate gate, QgaPlatform platform, QgaLoggerProvider loggers)
    {
        if (OperatingSystem.IsLinux())
        {
            var files = new FileHandleTable(state, new LinuxFileOpener());
            var exec = new ExecManager(new LinuxProcessLauncher());
            var context = new AgentContext(state, gate, files, exec, platform, config.FsfreezeHook);
            return new LinuxCommandHandler(context, LinuxSystem.Real, loggers.CreateLogger<LinuxCommandHandler>());
        }

        if (OperatingSystem.IsWindows())
        {
            var files = new FileHandleTable(state, new WindowsFileOpener());
            var exec = new ExecManager(new WindowsProcessLauncher());
            var context = new AgentContext(state, gate, files, exec, platform, config.FsfreezeHook);
            return new WindowsCommandHandler(context);
        }

        throw new PlatformNotSupportedException("QemuGuest agent runs on Linux and Windows");
    }

    public static IAgentChannel CreateChannel(AgentConfig config)
    {
        if (OperatingSystem.IsLinux())
        {
            if (config.SocketActivation)
            {
                return LinuxFdListenChannel.FromActivation(config.Method!);
            }

            return config.Method switch
            {
                AgentConfig.MethodUnixListen => new UnixListenChannel(config.ChannelPath!),
                AgentConfig.MethodVsockListen => LinuxFdListenChannel.Vsock(config.ChannelPath!),
                AgentConfig.MethodIsaSerial => new LinuxDeviceChannel(config.ChannelPath!, serial: true),
                _ => new LinuxDeviceChannel(config.ChannelPath!, serial: false),
            };
        }

        if (OperatingSystem.IsWindows())
        {
            return config.Method switch
            {
                AgentConfig.MethodUnixListen => new UnixListenChannel(config.ChannelPath!),
                AgentConfig.MethodVsockListen => throw new AgentChannelException("vsock-listen is not supported on Windows"),
                _ => new WindowsDeviceChannel(config.ChannelPath!, config.Method == AgentConfig.MethodIsaSerial),
            };
        }

        throw new AgentChannelException("unsupported platform");
    }
}
