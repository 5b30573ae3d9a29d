using System;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using QemuGuest.Relay.Configuration;
using QemuGuest.Relay.Guest;

namespace QemuGuest.Relay;

/// <summary>
/// The hosted service: starts the registry (runtime directory, control endpoint), then only
/// reconciles configured + discovered VMs every rescan period. All work lives in the VM
/// channels and sessions, each with its own error handling, so this loop never dies of one VM.
/// </summary>
internal sealed class RelayService : BackgroundService
{
    private readonly RelayOptions _options;
    private readonly RelaySchema _schema;
    private readonly ILoggerFactory _loggers;
    private RelayRegistry? _registry;

    public RelayService(IOptions<RelayOptions> options, RelaySchema schema, ILoggerFactory loggers)
    {
        _options = options.Value;
        _schema = schema;
        _loggers = loggers;
    }

    // Start-up failures (an untrusted runtime directory) must stop the host with an error
    // exit code: thrown from StartAsync they reach Program; from ExecuteAsync they would only
    // be logged.
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        _registry = new RelayRegistry(_options, _schema, _loggers);
        _registry.Start();
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_registry is null)
        {
            return;
        }
        var logger = _loggers.CreateLogger("QemuGuest.Relay");
        var period = TimeSpan.FromSeconds(_options.Discovery.RescanSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await _registry.ReconcileAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                Log.ReconcileFailed(logger, e);
            }

            try
            {
                await Task.Delay(period, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_registry is not null)
        {
            await _registry.DisposeAsync().ConfigureAwait(false);
        }
    }
}
