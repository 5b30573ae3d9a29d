using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// The one policy for carrying a copy on after the agent connection was interrupted under it
/// (a lost reply, an agent restart, a VM reboot or migration behind the relay): which failures
/// are interruptions, how often one file may resume, and how long the engine waits for the
/// agent to answer again. Where resuming is safe is the engine's decision (it owns the files);
/// docs/copy.md says when it is.
/// </summary>
internal static class TransferResume
{
    /// <summary>
    /// Interruptions one file may resume from. Each costs at least one round trip and the
    /// blocks in flight; a channel that keeps breaking ends the copy as it did before resuming
    /// existed (TransferInterrupted) instead of looping.
    /// </summary>
    public const int MaxPerFile = 8;

    /// <summary>
    /// How long a copy keeps asking for an agent that went away: long enough for a restarted
    /// agent or a rebooting small VM to answer again, short enough that a copy whose VM is gone
    /// ends with its error within a minute. Each call is bounded by the channel's own waits
    /// too (the relay's queue timeout, a direct session's reconnect policy).
    /// </summary>
    public static readonly TimeSpan ReturnWindow = TimeSpan.FromSeconds(45);

    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The request may or may not have reached the agent, and nothing the agent said is wrong:
    /// a direct session's lost connection or missing reply, or the relay's marked
    /// interruptions (connection-lost, no-reply, not-ready). A malformed reply is not one: that
    /// guest is not trusted with a second try.
    /// </summary>
    public static bool IsInterruption(Exception ex) =>
        ex is QgaDisconnectedException or QgaTimeoutException || GuestErrorText.IsRelayInterruption(ex);

    /// <summary>
    /// An interruption, or the agent no longer holding the copy's handle: a new agent process
    /// answered (it restarted between two requests, so no request of this copy saw it go;
    /// both agents number handles from a persistent counter, so a handle is never another's).
    /// </summary>
    public static bool IsResumable(Exception ex) => IsInterruption(ex) || GuestErrorText.IsHandleGone(ex);

    /// <summary>
    /// Runs <paramref name="call"/> until the agent answers it (success or a guest error),
    /// asking again while it is interrupted for up to <see cref="ReturnWindow"/>; then the last
    /// interruption propagates.
    /// </summary>
    public static async Task<T> WhenBackAsync<T>(Func<Task<T>> call, CancellationToken ct)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await call().ConfigureAwait(false);
            }
            catch (Exception ex) when (IsInterruption(ex) && waited.Elapsed < ReturnWindow)
            {
                await Task.Delay(Pause, ct).ConfigureAwait(false);
            }
        }
    }
}
