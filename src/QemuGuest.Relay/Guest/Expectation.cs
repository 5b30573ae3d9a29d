using System;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol;
using QemuGuest.Relay.Wire;

namespace QemuGuest.Relay.Guest;

/// <summary>
/// The one reply the relay is waiting for: the reply to relay id <see cref="Id"/>. Completed by
/// the reader loop with the parsed message (ownership passes to the waiter), or failed with
/// <see cref="GuestChannelException"/>. Sync rounds are the link's (<see cref="QemuGuest.Protocol.Link.AgentLink"/>), not expectations.
/// </summary>
internal sealed class Expectation
{
    private readonly TaskCompletionSource<OwnedJson?> _tcs;
    private int _firstByte;

    /// <param name="id">The relay id the reply must carry.</param>
    /// <param name="command">The command, for error texts.</param>
    /// <param name="inline">
    /// The waiter runs on the completing thread (the reader loop, for a reply): the VM channel
    /// passes the reply on to the client from there, with no hop through the thread pool. Its
    /// work there never blocks (socket writes are asynchronous). Off for a bulk transfer, whose
    /// waiter would run the transfer's bookkeeping inside the reader's frame callbacks.
    /// </param>
    public Expectation(long id, string command, bool inline = false)
    {
        Id = id;
        Command = command;
        _tcs = new(inline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public long Id { get; }

    public string Command { get; }

    public Task<OwnedJson?> Task => _tcs.Task;

    public bool SawFirstByte => Volatile.Read(ref _firstByte) != 0;

    /// <summary>Called once, from the reader loop, when the first byte after the request arrives.</summary>
    public Action? OnFirstByte { get; set; }

    public void NoteBytes()
    {
        if (Interlocked.Exchange(ref _firstByte, 1) == 0)
        {
            OnFirstByte?.Invoke();
        }
    }

    public bool TryComplete(OwnedJson? message) => _tcs.TrySetResult(message);

    public bool TryFail(string message, QgaInterruption? interruption = null) => _tcs.TrySetException(new GuestChannelException(message, interruption: interruption));

    /// <summary>A completion that arrived after the waiter gave up owns a document nobody will read.</summary>
    public void DisposeUnclaimed()
    {
        if (_tcs.Task.IsCompletedSuccessfully)
        {
            _tcs.Task.Result?.Dispose();
        }
    }
}
