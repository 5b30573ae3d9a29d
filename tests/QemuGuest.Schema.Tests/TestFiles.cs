using System;
using System.IO;
using System.Runtime.CompilerServices;

namespace QemuGuest.Schema.Tests;

/// <summary>Test data lives next to the sources; paths in messages are relative to this folder.</summary>
internal static class TestFiles
{
    public static string Root { get; } = FindRoot();

    /// <summary>QEMUGUEST_UPDATE_BASELINES=1 rewrites the expected .err files from the actual output.</summary>
    public static bool Update => Environment.GetEnvironmentVariable("QEMUGUEST_UPDATE_BASELINES") == "1";

    private static string FindRoot([CallerFilePath] string path = "")
    {
        string? dir = Path.GetDirectoryName(path);
        if (dir is not null && Directory.Exists(Path.Combine(dir, "invalid")))
        {
            return dir;
        }
        // Path-mapped (CI) builds: the data files are copied next to the test assembly.
        return AppContext.BaseDirectory;
    }

    /// <summary>The readFile callback for SchemaLoader: relative paths, null when missing.</summary>
    public static string? Read(string relative)
    {
        string full = Path.Combine(Root, relative);
        return File.Exists(full) ? File.ReadAllText(full) : null;
    }

    public static QapiSchema Load(string relative) => SchemaLoader.Load(relative, Read);

    /// <summary>The product's schema folder (schema/ at the repository root).</summary>
    public static string ProjectSchemaDir => Path.GetFullPath(Path.Combine(Root, "..", "..", "schema"));

    /// <summary>The readFile callback for the product's schema: paths relative to schema/.</summary>
    public static string? ReadProject(string relative)
    {
        string full = Path.Combine(ProjectSchemaDir, relative);
        return File.Exists(full) ? File.ReadAllText(full) : null;
    }

    /// <summary>Compares against a baseline file (or rewrites it under the update switch).</summary>
    public static void AssertBaseline(string relative, string actual)
    {
        string full = Path.Combine(Root, relative);
        if (Update)
        {
            File.WriteAllText(full, actual + "\n");
            return;
        }
        Assert.True(File.Exists(full), "missing baseline " + relative + "; actual:\n" + actual);
        string expected = File.ReadAllText(full).Replace("\r\n", "\n").TrimEnd('\n');
        Assert.Equal(expected, actual);
    }
}
