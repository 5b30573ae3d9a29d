using System;
using System.IO;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using QemuGuest.Protocol.Qga;
using QemuGuest.Relay.Configuration;
using QemuGuest.Relay.Guest;

namespace QemuGuest.Relay;

/// <summary>
/// qemuguest-relay [--config PATH] [--Relay:Key=value ...]
/// Configuration: /etc/qemuguest/relay.json (or %ProgramData%\QemuGuest\relay.json), then
/// --config PATH, then QEMUGUEST_RELAY_* environment variables, then the command line.
/// Runs as a systemd service (Type=notify) or a Windows service when started as one.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        string? configPath = null;
        for (int i = 0; i < args.Length - 1; i++)
        {
            if (args[i] is "--config" or "-c")
            {
                configPath = args[i + 1];
            }
        }

        if (Array.Exists(args, a => a is "--version" or "-V"))
        {
            Console.WriteLine("qemuguest-relay " + RelayRegistry.Version);
            return 0;
        }

        if (Array.Exists(args, a => a is "--help" or "-h"))
        {
            Console.WriteLine("usage: qemuguest-relay [--config PATH] [--Relay:Key=value ...]\nSee docs/relay.md.");
            return 0;
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            DisableDefaults = true,
        });
        string defaultConfig = OperatingSystem.IsWindows()
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.CommonApplicationData), "QemuGuest", "relay.json")
            : "/etc/qemuguest/relay.json";
        builder.Configuration.AddJsonFile(defaultConfig, optional: true, reloadOnChange: false);
        if (configPath is not null)
        {
            builder.Configuration.AddJsonFile(Path.GetFullPath(configPath), optional: false, reloadOnChange: false);
        }

        builder.Configuration.AddEnvironmentVariables("QEMUGUEST_RELAY_");
        builder.Configuration.AddCommandLine(args);

        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });
        builder.Services.AddSystemd();
        if (OperatingSystem.IsWindows())
        {
            builder.Services.AddWindowsService(o => o.ServiceName = "qemuguest-relay");
        }

        builder.Services.AddOptions<RelayOptions>()
            .Bind(builder.Configuration.GetSection(RelayOptions.SectionName))
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RelayOptions>, RelayOptionsValidator>();
        builder.Services.AddSingleton(_ => new RelaySchema(QgaSchemaDescriptors.Commands));
        builder.Services.AddHostedService<RelayService>();

        using var host = builder.Build();
        try
        {
            // Before the host starts, so a refusal is one line on stderr, not a logged stack trace.
            var options = host.Services.GetRequiredService<IOptions<RelayOptions>>().Value;
            if (!OperatingSystem.IsWindows())
            {
                RelayRegistry.PrepareRuntimeDirectory(options.RuntimeDirectory);
            }

            host.Run();
            return 0;
        }
        catch (OptionsValidationException e)
        {
            foreach (var failure in e.Failures)
            {
                Console.Error.WriteLine("qemuguest-relay: configuration: " + failure);
            }

            return 2;
        }
        catch (RelayStartupException e)
        {
            Console.Error.WriteLine("qemuguest-relay: " + e.Message);
            return 3;
        }
    }
}
