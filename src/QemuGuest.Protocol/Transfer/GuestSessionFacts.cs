using System.Collections.Concurrent;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// What is learnt about one agent connection and holds for as long as it is open: the agent's
/// profile, the processes whose exit was already collected (the stock agent reports an exit
/// once, then forgets the process, so Get- followed by Wait- must not lose it), and a Windows
/// guest's console code page. One instance lives on each session, beside its channel.
/// </summary>
public sealed class GuestSessionFacts
{
    private readonly object _gate = new();
    private Task<AgentProfile>? _profile;
    private Encoding? _windowsEncoding;

    /// <summary>The agent's profile, asked once; a failed or cancelled attempt is asked again next time.</summary>
    public Task<AgentProfile> GetProfileAsync(IGuestAgentChannel channel, QgaCallOptions options, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_profile is { IsFaulted: false, IsCanceled: false })
            {
                return _profile;
            }
            return _profile = AgentProfile.LoadAsync(channel, options, cancellationToken);
        }
    }

    /// <summary>Exits already collected from guest-exec-status, by pid, until a cmdlet hands them out.</summary>
    public ConcurrentDictionary<long, ExecOutcome> ExitedProcesses { get; } = new();

    /// <summary>A Windows guest's console (OEM) code page as chcp reported it; null until asked.</summary>
    public Encoding? WindowsEncoding
    {
        get => Volatile.Read(ref _windowsEncoding);
        set => Volatile.Write(ref _windowsEncoding, value);
    }
}
