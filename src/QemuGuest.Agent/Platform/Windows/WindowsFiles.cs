using System;
using System.IO;
using System.Runtime.Versioning;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;

namespace QemuGuest.Agent.Platform.Windows;

/// <summary>guest-file-open on Windows: CreateFile through FileStream (no "ab" mode, like qemu-ga).</summary>
[SupportedOSPlatform("windows")]
public sealed class WindowsFileOpener : IGuestFileOpener
{
    public bool IsWindows => true;

    public IGuestFile Open(string path, string mode, OpenMode parsed)
    {
        FileMode fileMode = parsed.Truncate ? FileMode.Create : parsed.Create ? FileMode.OpenOrCreate : FileMode.Open;
        FileAccess access = parsed.Read && parsed.Write ? FileAccess.ReadWrite : parsed.Write ? FileAccess.Write : FileAccess.Read;
        try
        {
            var stream = new FileStream(path, fileMode, access, FileShare.ReadWrite | FileShare.Delete, 1);
            if (parsed.Append)
            {
                stream.Seek(0, SeekOrigin.End);
            }

            return new StreamGuestFile(stream, parsed.Append);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new AgentCommandException("failed to open file '" + path + "' (mode: '" + mode + "'): " + Win32Native.IoErrorText(ex));
        }
    }
}

/// <summary>An open file as a FileStream, with feof(3)-like eof reporting.</summary>
[SupportedOSPlatform("windows")]
public sealed class StreamGuestFile : IGuestFile
{
    private readonly FileStream _stream;
    private readonly bool _append;

    public StreamGuestFile(FileStream stream, bool append)
    {
        _stream = stream;
        _append = append;
    }

    public (int Count, bool Eof) Read(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return (0, false);
        }

        int total = 0;
        bool eof = false;
        try
        {
            while (total < buffer.Length)
            {
                int n = _stream.Read(buffer.Slice(total));
                if (n == 0)
                {
                    eof = true;
                    break;
                }

                total += n;
            }
        }
        catch (Exception ex) when (ex is IOException or NotSupportedException or UnauthorizedAccessException)
        {
            throw new AgentCommandException("failed to read file: " + Win32Native.IoErrorText(ex));
        }

        return (total, eof);
    }

    public int Write(ReadOnlySpan<byte> data)
    {
        try
        {
            if (_append)
            {
                _stream.Seek(0, SeekOrigin.End);
            }

            _stream.Write(data);
            return data.Length;
        }
        catch (Exception ex) when (ex is IOException or NotSupportedException or UnauthorizedAccessException)
        {
            throw new AgentCommandException("failed to write to file: " + Win32Native.IoErrorText(ex));
        }
    }

    public long Seek(long offset, int whence)
    {
        try
        {
            return _stream.Seek(offset, (SeekOrigin)whence);
        }
        catch (Exception ex) when (ex is IOException or ArgumentException or NotSupportedException)
        {
            throw new AgentCommandException("failed to seek file: " + Win32Native.IoErrorText(ex));
        }
    }

    public void Flush()
    {
        try
        {
            _stream.Flush(flushToDisk: false);
        }
        catch (IOException ex)
        {
            throw new AgentCommandException("failed to flush file: " + Win32Native.IoErrorText(ex));
        }
    }

    public void Dispose() => _stream.Dispose();
}
