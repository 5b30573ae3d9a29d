using System;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// One guest file open for reading, block by block in order: what Get-Content on a guest drive
/// reads through. A read at the end returns 0 and leaves the handle where it is, so reading
/// again later returns what was appended meanwhile (following a log, as tail -f does).
/// </summary>
public sealed class GuestFileReader
{
    private readonly GuestFs _fs;
    private readonly IGuestAgentChannel _channel;
    private readonly long _handle;
    private readonly byte[] _buffer;
    private int _closed;

    internal GuestFileReader(GuestFs fs, IGuestAgentChannel channel, long handle, int chunk, string path)
    {
        _fs = fs;
        _channel = channel;
        _handle = handle;
        _buffer = new byte[chunk];
        Path = path;
    }

    public string Path { get; }

    /// <summary>The next block: its bytes are the first <c>Count</c> of the returned array, which the next call reuses; 0 at the end (for now).</summary>
    public async Task<ArraySegment<byte>> ReadAsync(CancellationToken cancellationToken)
    {
        GuestReadResult r = await GuestFileIO.ReadAsync(_channel, _handle, _buffer, _fs.CallOptions, cancellationToken).ConfigureAwait(false);
        return new ArraySegment<byte>(_buffer, 0, r.Count);
    }

    /// <summary>Closes the guest handle, bounded, also after cancellation; a second call does nothing.</summary>
    public Task CloseAsync() => Interlocked.Exchange(ref _closed, 1) == 0 ? _fs.CloseQuietlyAsync(_handle) : Task.CompletedTask;
}
