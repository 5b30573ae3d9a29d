using System;
using System.Buffers;

namespace QemuGuest.Protocol.Framing;

/// <summary>What one call to <see cref="JsonMessageReader.Read(ReadOnlySpan{byte}, out int)"/> produced.</summary>
public enum JsonFrameKind : byte
{
    /// <summary>The input was consumed without completing anything: feed more.</summary>
    None = 0,

    /// <summary>A complete top-level JSON value (normally an object) in <see cref="JsonFrame.Message"/>.</summary>
    Message,

    /// <summary>
    /// A byte that can never be part of JSON text (0xFE, 0xFF, an ASCII control other than
    /// whitespace, or outside strings anything that cannot start a token). Any half-read
    /// message was dropped. The stock agent answers each one with
    /// "JSON parse error, stray '...'"; 0xFF is the sync delimiter.
    /// </summary>
    StrayByte,

    /// <summary>A '}', ']', ':' or ',' outside any value (the stock agent: "JSON parse error, expecting value").</summary>
    UnexpectedByte,

    /// <summary>The current message exceeded the size bound; the rest of it is skipped without being stored.</summary>
    TooLarge,

    /// <summary>The current message nests deeper than the bound; the rest of it is skipped without being stored.</summary>
    TooDeep,

    /// <summary>The current message has more tokens than the bound; the rest of it is skipped without being stored.</summary>
    TooManyTokens,
}

/// <summary>What the reader does after a limit (size, depth, token count) cut a value short.</summary>
public enum JsonLimitRecovery : byte
{
    /// <summary>Skip the rest of the value unstored: one error per offending value (clients and the relay).</summary>
    SkipValue = 0,

    /// <summary>
    /// As QEMU's json-streamer: drop the tokens read so far and the offending token, then read on
    /// right after it as if between messages, so what is left of the value (its closing
    /// brackets, its remaining members) gets the replies the stock agent sends for it, one
    /// per top-level token. The size bound counts token bytes as QEMU does (whitespace between
    /// tokens not counted; see <see cref="JsonMessageReader.QemuMaxTokenBytes"/>), and
    /// top-level scalars are bounded like messages. Whitespace between tokens is still stored,
    /// up to 1 MiB beyond the bound (qemu-ga stores none and bounds none). Used by the agent.
    /// </summary>
    LikeQemu,
}

/// <summary>
/// One result of the reader. <see cref="Message"/> is only valid until the next call to
/// <c>Read</c> or <c>Reset</c> on the same reader (and, for the memory overload, while the
/// caller's input buffer is unchanged): parse or copy it before reading on.
/// </summary>
public readonly struct JsonFrame
{
    internal JsonFrame(JsonFrameKind kind, ReadOnlyMemory<byte> message, byte value)
    {
        Kind = kind;
        Message = message;
        Byte = value;
    }

    public JsonFrameKind Kind { get; }

    /// <summary>The message's UTF-8 bytes, without surrounding whitespace (<see cref="JsonFrameKind.Message"/> only).</summary>
    public ReadOnlyMemory<byte> Message { get; }

    /// <summary>The offending byte (<see cref="JsonFrameKind.StrayByte"/> and <see cref="JsonFrameKind.UnexpectedByte"/>).</summary>
    public byte Byte { get; }

    public override string ToString() => Kind switch
    {
        JsonFrameKind.Message => $"Message({Message.Length} bytes)",
        JsonFrameKind.StrayByte or JsonFrameKind.UnexpectedByte => $"{Kind}(0x{Byte:X2})",
        _ => Kind.ToString(),
    };
}

/// <summary>
/// Splits a byte stream into top-level JSON values the way QEMU's json-lexer/json-streamer
/// do: not line based; a value is complete when its top-level object/array/string closes
/// (a bare top-level token such as <c>1</c> when the next delimiter arrives); several may
/// arrive per chunk; any split of the input gives identical results.
/// </summary>
/// <remarks>
/// <para>This is a framer, not a validator: it tracks strings, escapes and depth, and hands out
/// each value for a real JSON parser (JsonDocument / Utf8JsonReader) to check. It does not
/// tell <c>{</c> from <c>[</c> when closing, nor check escapes, numbers or UTF-8 validity.</para>
/// <para>Stray bytes (see <see cref="JsonFrameKind.StrayByte"/>) abort the half-read value and
/// are reported once each; like QEMU's lexer, the reader then skips up to the next promising
/// restart point ('{', '}', '[', ']', an ASCII control other than TAB, 0xFE or 0xFF). Single
/// quoted strings (a QEMU extension) are framed as strings.</para>
/// <para>Tokens are counted the way QEMU's json-streamer counts them (each of <c>{ } [ ] : ,</c>,
/// each string and each bare token such as <c>123</c> or <c>true</c>), so a parser behind the
/// reader never builds metadata for more than <see cref="MaxTokens"/> values: the one place
/// size, nesting and token count are bounded, for the client, the agent and the relay alike.</para>
/// <para>Memory: one pooled buffer holding at most <see cref="MaxMessageBytes"/> of the current
/// object or array (<see cref="MaxTopLevelScalarBytes"/> of a top-level string or token), given
/// back to the pool after a message larger than 1 MiB. Whitespace, stray bytes, recovery skips and the rest of a too large, too deep or
/// too long value are never stored. Not thread-safe: one reader per direction of one connection.</para>
/// </remarks>
public sealed class JsonMessageReader : IDisposable
{
    /// <summary>64 MiB (a 48 MiB guest-file-read reply in base64) plus 1 MiB of slack.</summary>
    public const int DefaultMaxMessageBytes = (64 + 1) * 1024 * 1024;

    /// <summary>Same as the stock agent's parser.</summary>
    public const int DefaultMaxDepth = 1024;

    /// <summary>
    /// QEMU's MAX_TOKEN_SIZE as json-streamer.c applies it: a message is refused at the token
    /// that brings the bytes of its tokens (strings with their quotes, numbers, keywords,
    /// brackets and separators; not whitespace between them) to this many.
    /// </summary>
    public const int QemuMaxTokenBytes = 64 * 1024 * 1024;

    /// <summary>Same as the stock agent's parser (QEMU's MAX_TOKEN_COUNT).</summary>
    public const int DefaultMaxTokens = 2 * 1024 * 1024;

    /// <summary>
    /// Bound on a top-level string or bare token. Those are never valid messages (requests and
    /// replies are objects), so garbage outside any object costs at most this much memory.
    /// </summary>
    public const int MaxTopLevelScalarBytes = 1024;

    private const int InitialBufferSize = 4096;
    private const int WhitespaceAllowance = 1024 * 1024;

    // Byte classes outside strings.
    private const byte CStray = 0;
    private const byte CSpace = 1;
    private const byte COpen = 2;
    private const byte CClose = 3;
    private const byte CPunct = 4;
    private const byte CQuote = 5;
    private const byte CToken = 6;

    private static readonly byte[] Classes = BuildClasses();

    private enum State : byte
    {
        Idle,
        Value,
        String,
        StringEscape,
        Bare,
        Recovery,
    }

    private State _state;
    private int _depth;
    private int _tokens;
    private bool _inBare;
    private byte _quote;
    private bool _discard;
    private bool _scalar;
    private byte[]? _buffer;
    private int _length;
    private bool _shrinkPending;
    private bool _disposed;
    private readonly bool _likeQemu;
    private readonly int _storeLimit;

    // LikeQemu only: whitespace between the current value's tokens (not part of any token),
    // and a token that is read to its end and then dropped because a limit fell on it.
    private int _spaceBytes;
    private bool _dropAfterToken;

    // LikeQemu only: the value outgrew the buffer at the end of a chunk. It is reported where an
    // unsplit read would find it (the next token or the value's end; not at all if a stray byte
    // comes first), so the replies never depend on how the input was split.
    private bool _pendingTooLarge;

    public JsonMessageReader(int maxMessageBytes = DefaultMaxMessageBytes, int maxDepth = DefaultMaxDepth, int maxTokens = DefaultMaxTokens, JsonLimitRecovery recovery = JsonLimitRecovery.SkipValue)
    {
        if (maxMessageBytes < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(maxMessageBytes), maxMessageBytes, "Must be at least 2.");
        }

        if (maxDepth < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(maxDepth), maxDepth, "Must be at least 1.");
        }

        if (maxTokens < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(maxTokens), maxTokens, "Must be at least 2.");
        }

        MaxMessageBytes = maxMessageBytes;
        MaxDepth = maxDepth;
        MaxTokens = maxTokens;
        _likeQemu = recovery == JsonLimitRecovery.LikeQemu;
        _storeLimit = _likeQemu ? (int)Math.Min(int.MaxValue - 64, (long)maxMessageBytes + Math.Min(maxMessageBytes, WhitespaceAllowance)) : maxMessageBytes;
    }

    /// <summary>
    /// The size bound: bytes of one message; with <see cref="JsonLimitRecovery.LikeQemu"/>, bytes
    /// of its tokens (whitespace between them not counted), refused once they reach it.
    /// </summary>
    public int MaxMessageBytes { get; }

    public int MaxDepth { get; }

    /// <summary>Most tokens one message may have (see the remarks for what counts as a token).</summary>
    public int MaxTokens { get; }

    /// <summary>True when a value has started but not completed (including one being skipped).</summary>
    public bool IsInMessage => _state is State.Value or State.String or State.StringEscape or State.Bare;

    /// <summary>
    /// Scans <paramref name="input"/> up to and including the first event, always copying a
    /// message into the reader's own buffer. <paramref name="consumed"/> tells how far it got;
    /// call again with the rest. <see cref="JsonFrameKind.None"/> means all input was consumed.
    /// </summary>
    public JsonFrame Read(ReadOnlySpan<byte> input, out int consumed) => ReadCore(input, default, false, out consumed);

    /// <summary>
    /// Same as the span overload, but a message lying wholly inside <paramref name="input"/> is
    /// handed out as a slice of it without copying.
    /// </summary>
    public JsonFrame Read(ReadOnlyMemory<byte> input, out int consumed) => ReadCore(input.Span, input, true, out consumed);

    /// <summary>
    /// Lets go of a buffer that large messages grew beyond 1 MiB, unless a message is half-read
    /// into it (an agent going idle after answering everything it was sent).
    /// </summary>
    public void ReleaseLargeBuffer()
    {
        if (!IsInMessage)
        {
            _shrinkPending = false;
            ShrinkIfLarge();
        }
    }

    /// <summary>Drops any half-read value and returns to the between-messages state.</summary>
    public void Reset()
    {
        _state = State.Idle;
        _depth = 0;
        _discard = false;
        _dropAfterToken = false;
        _pendingTooLarge = false;
        _length = 0;
        ShrinkIfLarge();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        ReturnBuffer();
    }

    private JsonFrame ReadCore(ReadOnlySpan<byte> input, ReadOnlyMemory<byte> memory, bool haveMemory, out int consumed)
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(JsonMessageReader));
        }

        if (_shrinkPending)
        {
            _shrinkPending = false;
            ShrinkIfLarge();
        }

        byte[] classes = Classes;
        int n = input.Length;
        int i = 0;

        // Start of the current value's bytes inside this chunk that are not yet in _buffer.
        int segStart = IsInMessage && !_discard ? 0 : -1;

        while (i < n)
        {
            switch (_state)
            {
                case State.Idle:
                {
                    byte b = input[i];
                    switch (classes[b])
                    {
                        case CSpace:
                            i++;
                            continue;
                        case COpen:
                            Begin(State.Value);
                            _scalar = false;
                            _depth = 1;
                            _tokens = 1;
                            _inBare = false;
                            segStart = i++;
                            continue;
                        case CQuote:
                            Begin(State.String);
                            _scalar = true;
                            _quote = b;
                            segStart = i++;
                            continue;
                        case CToken:
                            Begin(State.Bare);
                            _scalar = true;
                            segStart = i++;
                            continue;
                        case CClose:
                        case CPunct:
                            consumed = i + 1;
                            return new JsonFrame(JsonFrameKind.UnexpectedByte, default, b);
                        default:
                            consumed = i + 1;
                            return Stray(b);
                    }
                }

                case State.Value:
                {
                    while (i < n)
                    {
                        byte b = input[i];
                        byte cls = classes[b];
                        if (cls == CToken)
                        {
                            if (!_inBare)
                            {
                                _inBare = true;
                                if (_likeQemu && SizeReachedBefore(i, segStart))
                                {
                                    consumed = i;
                                    return Abandon(JsonFrameKind.TooLarge);
                                }

                                if (OverTokenLimit())
                                {
                                    consumed = i + 1;
                                    return _likeQemu ? DropRestOfToken(State.Bare, JsonFrameKind.TooManyTokens) : new JsonFrame(JsonFrameKind.TooManyTokens, default, 0);
                                }
                            }

                            i++;
                            continue;
                        }

                        _inBare = false;
                        if (cls == CSpace)
                        {
                            i++;
                            _spaceBytes++;
                            continue;
                        }

                        // A token bound is checked where the next token starts (or the value
                        // ends): the same token QEMU refuses, found one whitespace run later.
                        if (_likeQemu && SizeReachedBefore(i, segStart))
                        {
                            consumed = i;
                            return Abandon(JsonFrameKind.TooLarge);
                        }

                        // Every other byte starts a token; the byte's own effect (depth, string,
                        // end of value) still applies when the bound is first crossed on it.
                        bool over = OverTokenLimit();
                        switch (cls)
                        {
                            case CPunct:
                                i++;
                                if (over)
                                {
                                    consumed = i;
                                    return _likeQemu ? Abandon(JsonFrameKind.TooManyTokens) : new JsonFrame(JsonFrameKind.TooManyTokens, default, 0);
                                }

                                continue;
                            case COpen:
                                i++;
                                if (over)
                                {
                                    _depth++;
                                    consumed = i;
                                    return _likeQemu ? Abandon(JsonFrameKind.TooManyTokens) : new JsonFrame(JsonFrameKind.TooManyTokens, default, 0);
                                }

                                if (++_depth > MaxDepth && !_discard)
                                {
                                    consumed = i;
                                    if (_likeQemu)
                                    {
                                        return Abandon(JsonFrameKind.TooDeep);
                                    }

                                    _discard = true;
                                    _length = 0;
                                    return new JsonFrame(JsonFrameKind.TooDeep, default, 0);
                                }

                                continue;
                            case CClose:
                                i++;
                                if (_likeQemu && over)
                                {
                                    consumed = i;
                                    return Abandon(JsonFrameKind.TooManyTokens);
                                }

                                if (--_depth == 0)
                                {
                                    if (_likeQemu && TokenBytesReached(i, segStart))
                                    {
                                        consumed = i;
                                        return Abandon(JsonFrameKind.TooLarge);
                                    }

                                    if (Complete(input, memory, haveMemory, segStart, i, out JsonFrame frame))
                                    {
                                        consumed = i;
                                        return frame;
                                    }

                                    segStart = -1;
                                    if (over)
                                    {
                                        consumed = i;
                                        return new JsonFrame(JsonFrameKind.TooManyTokens, default, 0);
                                    }

                                    goto NextState;
                                }

                                if (over)
                                {
                                    consumed = i;
                                    return new JsonFrame(JsonFrameKind.TooManyTokens, default, 0);
                                }

                                continue;
                            case CQuote:
                                _quote = b;
                                _state = State.String;
                                i++;
                                if (over)
                                {
                                    consumed = i;
                                    return _likeQemu ? DropRestOfToken(State.String, JsonFrameKind.TooManyTokens) : new JsonFrame(JsonFrameKind.TooManyTokens, default, 0);
                                }

                                goto NextState;
                            default:
                                consumed = i + 1;
                                return Stray(b);
                        }
                    }

                    break;
                }

                case State.String:
                {
                    int stop = IndexOfStringStop(input.Slice(i), _quote);
                    if (stop < 0)
                    {
                        i = n;
                        break;
                    }

                    i += stop;
                    byte b = input[i];
                    if (b == _quote)
                    {
                        i++;
                        if (_dropAfterToken)
                        {
                            EndDroppedToken();
                        }
                        else if (_depth == 0)
                        {
                            if (Complete(input, memory, haveMemory, segStart, i, out JsonFrame frame))
                            {
                                consumed = i;
                                return frame;
                            }

                            segStart = -1;
                        }
                        else
                        {
                            _state = State.Value;
                        }
                    }
                    else if (b == (byte)'\\')
                    {
                        i++;
                        _state = State.StringEscape;
                    }
                    else
                    {
                        consumed = i + 1;
                        return Stray(b);
                    }

                    break;
                }

                case State.StringEscape:
                {
                    byte b = input[i];
                    if (b < 0x20 || b >= 0xFE)
                    {
                        consumed = i + 1;
                        return Stray(b);
                    }

                    i++;
                    _state = State.String;
                    break;
                }

                case State.Bare:
                {
                    while (i < n && classes[input[i]] == CToken)
                    {
                        i++;
                    }

                    if (i < n && _dropAfterToken)
                    {
                        EndDroppedToken();
                    }
                    else if (i < n)
                    {
                        // The delimiter is not part of the token: it is looked at again in Idle.
                        if (Complete(input, memory, haveMemory, segStart, i, out JsonFrame frame))
                        {
                            consumed = i;
                            return frame;
                        }

                        segStart = -1;
                    }

                    break;
                }

                case State.Recovery:
                {
                    while (i < n && !IsRestartPoint(input[i]))
                    {
                        i++;
                    }

                    if (i < n)
                    {
                        _state = State.Idle;
                    }

                    break;
                }
            }

        NextState:
            ;
        }

        consumed = n;
        if (segStart >= 0 && IsInMessage && !_discard)
        {
            if (!Append(input.Slice(segStart, n - segStart)))
            {
                _discard = true;
                ReturnBuffer(); // the rest is skipped, not stored: nothing to keep a maximal buffer for
                if (_likeQemu)
                {
                    _pendingTooLarge = true;
                    return default;
                }

                return new JsonFrame(JsonFrameKind.TooLarge, default, 0);
            }
        }

        return default;
    }

    /// <summary>
    /// Counts one token of the current value; true exactly once per value, when it first has
    /// more than <see cref="MaxTokens"/> (the rest of the value is then skipped unstored).
    /// </summary>
    private bool OverTokenLimit()
    {
        if (_discard || ++_tokens <= MaxTokens)
        {
            return false;
        }

        _discard = true;
        _length = 0;
        return true;
    }

    /// <summary>
    /// LikeQemu: true when the tokens of the current value before offset <paramref name="i"/>
    /// of this chunk hold <see cref="MaxMessageBytes"/> bytes or more.
    /// </summary>
    private bool TokenBytesReached(int i, int segStart) =>
        !_discard && (long)_length + (i - segStart) - _spaceBytes >= MaxMessageBytes;

    /// <summary>LikeQemu, where a token starts: the tokens before it reached the bound, or the value outgrew its buffer.</summary>
    private bool SizeReachedBefore(int i, int segStart) =>
        _pendingTooLarge || TokenBytesReached(i, segStart) || (!_discard && (long)_length + (i - segStart) > _storeLimit);

    /// <summary>LikeQemu: forgets the value and reads on as between messages, from where the caller stopped.</summary>
    private JsonFrame Abandon(JsonFrameKind kind)
    {
        _state = State.Idle;
        _depth = 0;
        _discard = false;
        _dropAfterToken = false;
        _pendingTooLarge = false;
        _length = 0;
        ShrinkIfLarge();
        return new JsonFrame(kind, default, 0);
    }

    /// <summary>LikeQemu: the limit fell on a string or bare token that has begun; it is read to its end unstored, then dropped.</summary>
    private JsonFrame DropRestOfToken(State tokenState, JsonFrameKind kind)
    {
        _state = tokenState;
        _depth = 0;
        _discard = true;
        _dropAfterToken = true;
        _length = 0;
        ShrinkIfLarge();
        return new JsonFrame(kind, default, 0);
    }

    private void EndDroppedToken()
    {
        _state = State.Idle;
        _discard = false;
        _dropAfterToken = false;
    }

    private int Limit => _scalar && !_likeQemu ? Math.Min(MaxMessageBytes, MaxTopLevelScalarBytes) : _storeLimit;

    private void Begin(State state)
    {
        _state = state;
        _depth = 0;
        _discard = false;
        _length = 0;
        _spaceBytes = 0;
        _pendingTooLarge = false;
    }

    /// <summary>A value closed at <paramref name="end"/> (exclusive). False when it was being skipped.</summary>
    private bool Complete(ReadOnlySpan<byte> input, ReadOnlyMemory<byte> memory, bool haveMemory, int segStart, int end, out JsonFrame frame)
    {
        _state = State.Idle;
        _depth = 0;
        if (_pendingTooLarge)
        {
            _pendingTooLarge = false;
            _discard = false;
            _length = 0;
            frame = new JsonFrame(JsonFrameKind.TooLarge, default, 0);
            return true;
        }

        if (_discard)
        {
            _discard = false;
            _length = 0;
            frame = default;
            return false;
        }

        int tail = end - segStart;
        if ((long)_length + tail > Limit)
        {
            ReturnBuffer();
            frame = new JsonFrame(JsonFrameKind.TooLarge, default, 0);
            return true;
        }

        // A large buffer is kept while large messages keep coming (a transfer's 48 MiB reads:
        // growing it again by doubling cost ~200 MB of copies per reply) and let go after the
        // first small one, so one burst of them does not pin it.
        ReadOnlyMemory<byte> message;
        if (_length == 0 && haveMemory)
        {
            message = memory.Slice(segStart, tail);
            ShrinkIfLarge();
        }
        else
        {
            Append(input.Slice(segStart, tail));
            message = new ReadOnlyMemory<byte>(_buffer, 0, _length);
            _shrinkPending = _buffer!.Length > SharedPool.MaxPooledBytes && _length <= SharedPool.MaxPooledBytes;
            _length = 0;
        }

        frame = new JsonFrame(JsonFrameKind.Message, message, 0);
        return true;
    }

    private JsonFrame Stray(byte b)
    {
        _state = State.Recovery;
        _depth = 0;
        _discard = false;
        _dropAfterToken = false;
        _pendingTooLarge = false;
        _length = 0;
        return new JsonFrame(JsonFrameKind.StrayByte, default, b);
    }

    private bool Append(ReadOnlySpan<byte> bytes)
    {
        long need = (long)_length + bytes.Length;
        if (need > Limit)
        {
            return false;
        }

        if (_buffer is null || need > _buffer.Length)
        {
            long grown = Math.Max(need, Math.Max(InitialBufferSize, (_buffer?.Length ?? 0) * 2L));
            int size = (int)Math.Min(grown, _storeLimit);
            byte[] next = size <= SharedPool.MaxPooledBytes ? ArrayPool<byte>.Shared.Rent(size) : new byte[size];
            if (_buffer is not null)
            {
                Buffer.BlockCopy(_buffer, 0, next, 0, _length);
                Release(_buffer);
            }

            _buffer = next;
        }

        bytes.CopyTo(new Span<byte>(_buffer, _length, bytes.Length));
        _length = (int)need;
        return true;
    }

    private void ShrinkIfLarge()
    {
        if (_buffer is not null && _buffer.Length > SharedPool.MaxPooledBytes && _length == 0)
        {
            ReturnBuffer();
        }
    }

    private void ReturnBuffer()
    {
        if (_buffer is not null)
        {
            Release(_buffer);
            _buffer = null;
        }

        _length = 0;
    }

    // Measured here: 256 MiB stayed in the process after one 1 GiB reply from a hostile peer.
    private static void Release(byte[] buffer)
    {
        if (buffer.Length <= SharedPool.MaxPooledBytes)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // Control bytes end a string (QEMU's lexer refuses them) and so do 0xFE/0xFF (resync bytes).
    private static int IndexOfStringStop(ReadOnlySpan<byte> span, byte quote) => StringRun.IndexOfStop(span, quote, 0x20, 0xFD);

    private static bool IsRestartPoint(byte b) =>
        (b < 0x20 && b != (byte)'\t') || b >= 0xFE || b == (byte)'{' || b == (byte)'}' || b == (byte)'[' || b == (byte)']';

    private static byte[] BuildClasses()
    {
        var classes = new byte[256];
        classes[' '] = classes['\t'] = classes['\n'] = classes['\r'] = CSpace;
        classes['{'] = classes['['] = COpen;
        classes['}'] = classes[']'] = CClose;
        classes[':'] = classes[','] = CPunct;
        classes['"'] = classes['\''] = CQuote;
        for (int c = 'a'; c <= 'z'; c++)
        {
            classes[c] = CToken;
            classes[c - 'a' + 'A'] = CToken;
        }

        for (int c = '0'; c <= '9'; c++)
        {
            classes[c] = CToken;
        }

        classes['+'] = classes['-'] = classes['.'] = CToken;
        return classes;
    }
}
