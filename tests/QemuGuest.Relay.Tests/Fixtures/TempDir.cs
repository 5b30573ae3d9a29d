using System;
using System.IO;

namespace QemuGuest.Relay.Tests.Fixtures;

/// <summary>A scratch directory per test, removed afterwards.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        // Short: unix socket paths are limited to 108 bytes.
        Path = System.IO.Path.Combine("/tmp", "qgr-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
