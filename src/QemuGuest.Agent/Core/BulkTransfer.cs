using System.Text.Json;
using QemuGuest.Agent.Handlers.Common;

namespace QemuGuest.Agent.Core;

/// <summary>
/// A bulk transfer the handler accepted (<c>__com.qemuguest_guest-file-bulk</c>), waiting for
/// the service loop to run it once the accepting reply is on the wire.
/// </summary>
public sealed class BulkTransfer
{
    public BulkTransfer(long handle, IGuestFile file, bool write, long count)
    {
        Handle = handle;
        File = file;
        Write = write;
        Count = count;
    }

    public long Handle { get; }

    public IGuestFile File { get; }

    /// <summary>True: frames come from the client into the file; false: the file's bytes go out as frames.</summary>
    public bool Write { get; }

    public long Count { get; }

    /// <summary>The request's id, echoed by the completion reply.</summary>
    public JsonElement? Id { get; set; }

    /// <summary>Bytes moved so far.</summary>
    public long Done { get; set; }

    /// <summary>The first failure (the completion becomes an error reply naming it).</summary>
    public string? Failure { get; set; }
}

/// <summary>
/// Hands an accepted bulk transfer from the command handler to the service loop: set by the
/// handler, given its id by the request processor once the reply succeeded, taken by the loop.
/// </summary>
public sealed class BulkSlot
{
    private BulkTransfer? _pending;

    /// <summary>Transfers bigger than this are refused: 1 TiB, far above any file a copy moves, low enough that no sum overflows.</summary>
    public const long MaxCount = 1L << 40;

    /// <summary>How long a write transfer waits for the client's next bytes before it gives up and returns to JSON.</summary>
    public static readonly System.TimeSpan IdleTimeout = System.TimeSpan.FromSeconds(2);

    public void Offer(BulkTransfer transfer) => _pending = transfer;

    public BulkTransfer? Peek() => _pending;

    public void Clear() => _pending = null;

    public BulkTransfer? Take()
    {
        BulkTransfer? t = _pending;
        _pending = null;
        return t;
    }
}
