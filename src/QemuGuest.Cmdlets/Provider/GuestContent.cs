using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Provider;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Cmdlets.Provider;

/// <summary>
/// Get-Content on a QemuGuest drive: the guest file's lines (UTF-8, \n or \r\n), read block by
/// block as they are asked for, so -TotalCount stops early and memory holds one block and one
/// line. With -Wait, the end of the file is polled once a second for what is appended, until
/// Ctrl+C (the provider's Stopping).
/// </summary>
internal sealed class GuestContentReader : IContentReader
{
    /// <summary>The longest line kept: a guest file without line ends must not fill host memory.</summary>
    internal const int MaxLineChars = 16 * 1024 * 1024;

    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(1);

    private readonly QemuGuestProvider _provider;
    private readonly QemuGuestDriveInfo _drive;
    private readonly GuestFileReader _reader;
    private readonly bool _wait;
    private int _lastLines;
    private readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
    private readonly StringBuilder _line = new();
    private readonly Queue<string> _ready = new();
    private bool _ended;

    public GuestContentReader(QemuGuestProvider provider, QemuGuestDriveInfo drive, GuestFileReader reader, bool wait, int lastLines)
    {
        _provider = provider;
        _drive = drive;
        _reader = reader;
        _wait = wait;
        _lastLines = lastLines;
    }

    public IList Read(long readCount)
    {
        if (_lastLines > 0)
        {
            SkipToLastLines(_lastLines);
            _lastLines = 0;
        }
        var lines = new List<object>();
        long want = readCount <= 0 ? long.MaxValue : readCount;
        while (lines.Count < want)
        {
            if (_ready.Count > 0)
            {
                lines.Add(_ready.Dequeue());
                continue;
            }
            if (_ended && !_wait)
            {
                break;
            }
            if (!Fill())
            {
                // At the end: the last line without a line end is a line too.
                if (_line.Length > 0)
                {
                    _ready.Enqueue(_line.ToString());
                    _line.Clear();
                    continue;
                }
                _ended = true;
                if (!_wait || lines.Count > 0)
                {
                    break;
                }
                if (!Sleep())
                {
                    break;
                }
            }
        }
        return lines;
    }

    /// <summary>
    /// Reads the file to its end keeping only its last <paramref name="count"/> lines (one
    /// pass, in order: the guest file cannot be read backwards through the agent).
    /// </summary>
    private void SkipToLastLines(int count)
    {
        while (Fill())
        {
            while (_ready.Count > count)
            {
                _ready.Dequeue();
            }
        }
        if (_line.Length > 0)
        {
            _ready.Enqueue(_line.ToString());
            _line.Clear();
        }
        while (_ready.Count > count)
        {
            _ready.Dequeue();
        }
    }

    /// <summary>Reads one block and splits it into lines; false at the end of the file (for now).</summary>
    private bool Fill()
    {
        ArraySegment<byte> block = _provider.Run(_drive, (_, _, ct) => _reader.ReadAsync(ct));
        if (block.Count == 0)
        {
            return false;
        }
        var chars = new char[_decoder.GetCharCount(block.Array!, block.Offset, block.Count)];
        int n = _decoder.GetChars(block.Array!, block.Offset, block.Count, chars, 0);
        for (int i = 0; i < n; i++)
        {
            char c = chars[i];
            if (c == '\n')
            {
                int len = _line.Length;
                _ready.Enqueue(len > 0 && _line[len - 1] == '\r' ? _line.ToString(0, len - 1) : _line.ToString());
                _line.Clear();
                continue;
            }
            if (_line.Length >= MaxLineChars)
            {
                throw ErrorTable.Fail(ErrorTable.SourceSizeExceeded, ErrorCategory.LimitsExceeded,
                    $"A line of '{_drive.VMName}:{QemuGuest.Protocol.Validation.PathComponent.Printable(_reader.Path)}' is longer than {MaxLineChars} characters: Get-Content stopped. Copy-VMGuestFile -GuestToLocal fetches the file as bytes.",
                    _reader.Path);
            }
            _line.Append(c);
        }
        return true;
    }

    /// <summary>Waits one poll interval; false once the pipeline is stopping (Ctrl+C).</summary>
    private bool Sleep()
    {
        var until = DateTime.UtcNow + Poll;
        while (DateTime.UtcNow < until)
        {
            if (_provider.Stopping)
            {
                return false;
            }
            Thread.Sleep(100);
        }
        return !_provider.Stopping;
    }

    public void Seek(long offset, SeekOrigin origin)
    {
        throw new PSNotSupportedException("A QemuGuest drive reads a guest file from its start only.");
    }

    public void Close()
    {
        // Bounded by the engine (5 s), and run even after Ctrl+C: the guest handle must not leak.
        Task.Run(() => _reader.CloseAsync()).Wait(TimeSpan.FromSeconds(10));
    }

    public void Dispose() => Close();
}

/// <summary>
/// Set-Content and Add-Content on a QemuGuest drive: the values are collected (UTF-8, each
/// followed by the guest's line end unless -NoNewline) and written when the cmdlet closes the
/// writer, in one atomic replace through the engine (temporary file renamed into place, as
/// Copy-VMGuestFile writes), keeping the file's permission bits. Add-Content first reads what
/// is there. Both are bounded by <see cref="MaxBytes"/>: bigger files are Copy-VMGuestFile's.
/// </summary>
internal sealed class GuestContentWriter : IContentWriter
{
    internal const int MaxBytes = 64 * 1024 * 1024;

    private readonly QemuGuestProvider _provider;
    private readonly QemuGuestDriveInfo _drive;
    private readonly string _guestPath;
    private readonly bool _noNewline;
    private readonly string _newline;
    private readonly MemoryStream _data = new();
    private bool _closed;

    public GuestContentWriter(QemuGuestProvider provider, QemuGuestDriveInfo drive, GuestTransferEngine engine, string guestPath, bool noNewline)
    {
        _provider = provider;
        _drive = drive;
        _guestPath = guestPath;
        _noNewline = noNewline;
        _newline = engine.Profile.IsWindows ? "\r\n" : "\n";
    }

    public IList Write(IList content)
    {
        foreach (object? item in content)
        {
            string text = item is null ? string.Empty : LanguagePrimitives.ConvertTo<string>(item);
            Append(QemuGuestProvider.Utf8.GetBytes(_noNewline ? text : text + _newline));
        }
        return content;
    }

    /// <summary>Add-Content seeks to the end: then the file's present content comes first.</summary>
    public void Seek(long offset, SeekOrigin origin)
    {
        if (origin != SeekOrigin.End || offset != 0)
        {
            throw new PSNotSupportedException("A QemuGuest drive writes a whole file, or appends to its end.");
        }
        var existing = new MemoryStream();
        bool found = _provider.Run(_drive, async (e, _, ct) =>
        {
            var entry = await e.StatAsync(_guestPath, ct).ConfigureAwait(false);
            if (entry is null)
            {
                return false;
            }
            await e.DownloadAsync(_guestPath, existing, entry.Value.Size, new TransferOptions { MaxBytes = MaxBytes }, null, ct).ConfigureAwait(false);
            return true;
        });
        if (found)
        {
            byte[] before = existing.ToArray();
            _data.SetLength(0);
            Append(before);
        }
    }

    private void Append(byte[] bytes)
    {
        if (_data.Length + bytes.Length > MaxBytes)
        {
            throw ErrorTable.Fail(ErrorTable.InputTooLarge, ErrorCategory.LimitsExceeded,
                $"The content for '{_drive.VMName}:{QemuGuest.Protocol.Validation.PathComponent.Printable(_guestPath)}' is over {MaxBytes} bytes: nothing was written. Copy-VMGuestFile copies files of any size.",
                _guestPath);
        }
        _data.Write(bytes, 0, bytes.Length);
    }

    public void Close()
    {
        if (_closed)
        {
            return;
        }
        _closed = true;
        _provider.ReplaceContent(_drive, _guestPath, _data.GetBuffer(), (int)_data.Length);
    }

    public void Dispose() => _data.Dispose();
}
