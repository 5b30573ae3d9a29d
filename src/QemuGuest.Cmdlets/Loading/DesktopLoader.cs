using System;
using System.Collections.Generic;
using System.IO;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace QemuGuest.Cmdlets.Loading;

/// <summary>
/// Windows PowerShell 5.1 side of <see cref="ModuleLoader"/>: .NET Framework has one load
/// context per AppDomain, so dependencies resolve from Dependencies/ on demand through
/// AppDomain.AssemblyResolve. That event is the whole process's: every module's failed load
/// reaches it, so the handler answers only for our dependencies at the versions we ship, and only
/// to our own assemblies (<see cref="Choose"/>); another module asking for System.Text.Json gets
/// no answer from us and keeps its own resolution. Not run on a real Windows PowerShell (no
/// Windows in CI); <see cref="Choose"/> is tested from Pester with own and foreign requests.
/// </summary>
internal static class DesktopLoader
{
    private static string s_moduleDir = string.Empty;
    private static IReadOnlyDictionary<string, AssemblyName> s_shipped = new Dictionary<string, AssemblyName>();

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void Install(string depsDir)
    {
        s_moduleDir = Path.GetDirectoryName(depsDir) ?? depsDir;
        s_shipped = Shipped(depsDir);
        AppDomain.CurrentDomain.AssemblyResolve += OnAssemblyResolve;
    }

    private static Assembly? OnAssemblyResolve(object? sender, ResolveEventArgs args)
    {
        string? requester = null;
        try
        {
            requester = args.RequestingAssembly?.Location;
        }
        catch (NotSupportedException)
        {
            // A dynamic assembly has no location: not one of ours.
            requester = string.Empty;
        }

        string? path = Choose(args.Name, requester, s_moduleDir, s_shipped);
        return path is null ? null : Assembly.LoadFrom(path);
    }

    /// <summary>The assemblies in <paramref name="depsDir"/> by simple name (case-insensitive), with their versions and keys.</summary>
    internal static IReadOnlyDictionary<string, AssemblyName> Shipped(string depsDir)
    {
        var shipped = new Dictionary<string, AssemblyName>(StringComparer.OrdinalIgnoreCase);
        foreach (string file in Directory.GetFiles(depsDir, "*.dll"))
        {
            try
            {
                AssemblyName name = AssemblyName.GetAssemblyName(file);
                name.CodeBase = file;
                if (name.Name is { Length: > 0 } simple)
                {
                    shipped[simple] = name;
                }
            }
            catch (BadImageFormatException)
            {
                // Not an assembly: nothing to answer with.
            }
        }

        return shipped;
    }

    /// <summary>
    /// The file to load for the request <paramref name="requestedName"/> (an assembly's full name),
    /// or null to leave it to others. Answers only when the name is one we ship, its public key
    /// token (when it names one) is ours, and the version asked for is at most the one we ship
    /// (our dependencies reference each other at older versions: the binding redirects an app
    /// would have). <paramref name="requesterLocation"/> is the requesting assembly's file: it
    /// must be this module's (its folder or Dependencies/); an empty one (a dynamic assembly) is
    /// foreign. Null (the runtime did not say, as for Assembly.Load by name): answered only for
    /// exactly the version we ship.
    /// </summary>
    internal static string? Choose(string requestedName, string? requesterLocation, string moduleDir, IReadOnlyDictionary<string, AssemblyName> shipped)
    {
        AssemblyName requested;
        try
        {
            requested = new AssemblyName(requestedName);
        }
        catch (Exception ex) when (ex is ArgumentException or FileLoadException)
        {
            return null;
        }

        if (requested.Name is not { Length: > 0 } || !shipped.TryGetValue(requested.Name, out AssemblyName? ours))
        {
            return null;
        }

        byte[]? wantedKey = requested.GetPublicKeyToken();
        if (wantedKey is { Length: > 0 } && !SameBytes(wantedKey, ours.GetPublicKeyToken()))
        {
            return null;
        }

        if (requested.Version is { } wanted && ours.Version is { } have && wanted > have)
        {
            return null;
        }

        if (requesterLocation is null)
        {
            return requested.Version is { } exact && exact == ours.Version ? ours.CodeBase : null;
        }

        return IsInModule(requesterLocation, moduleDir) ? ours.CodeBase : null;
    }

    private static bool IsInModule(string location, string moduleDir)
    {
        if (location.Length == 0)
        {
            return false;
        }

        string? folder = Path.GetDirectoryName(Path.GetFullPath(location));
        string root = Path.GetFullPath(moduleDir).TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar);
        return folder is not null
            && (string.Equals(folder, root, StringComparison.OrdinalIgnoreCase)
                || string.Equals(folder, Path.Combine(root, ModuleLoader.DependencyFolderName), StringComparison.OrdinalIgnoreCase));
    }

    private static bool SameBytes(byte[] a, byte[]? b)
    {
        if (b is null || a.Length != b.Length)
        {
            return false;
        }

        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i])
            {
                return false;
            }
        }

        return true;
    }
}
