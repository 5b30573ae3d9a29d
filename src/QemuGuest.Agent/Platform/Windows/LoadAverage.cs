using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>
/// qemu-ga's emulated load average on Windows (qga/commands-win32.c, load_avg_callback):
/// every 5 s the "\System\Processor Queue Length" counter feeds three exponentially weighted
/// moving averages with Linux's damping factors, 1 / exp(5 s / window). All start at 0 when
/// the first guest-get-load arrives, so the first answers are low until a few minutes passed.
/// </summary>
internal sealed class LoadAverage
{
    /// <summary>The sampling interval in seconds (LOADAVG_SAMPLING_INTERVAL).</summary>
    public const int SamplingIntervalSeconds = 5;

    public const double Factor1m = 0.9200444146293232478931553241;
    public const double Factor5m = 0.9834714538216174894737477501;
    public const double Factor15m = 0.9944598480048967508795473394;

    private readonly object _gate = new();
    private double _load1m;
    private double _load5m;
    private double _load15m;

    /// <summary>One sample of the processor queue length.</summary>
    public void Sample(double queueLength)
    {
        lock (_gate)
        {
            _load1m = (_load1m * Factor1m) + (queueLength * (1.0 - Factor1m));
            _load5m = (_load5m * Factor5m) + (queueLength * (1.0 - Factor5m));
            _load15m = (_load15m * Factor15m) + (queueLength * (1.0 - Factor15m));
        }
    }

    public GuestLoadAverage Current
    {
        get
        {
            lock (_gate)
            {
                return new GuestLoadAverage(_load1m, _load5m, _load15m);
            }
        }
    }
}
