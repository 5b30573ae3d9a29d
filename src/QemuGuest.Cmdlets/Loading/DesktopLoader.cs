using System;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace QemuGuest.Cmdlets.Loading;

/// <summary>
/// Windows PowerShell 5.1 side of <see cref="ModuleLoader"/>: .NET Framework has one load
/// context per AppDomain, so dependencies resolve from Dependencies/ on demand. Untested here
/// (no Windows in CI); the logic is the documented AssemblyResolve pattern.
/// </summary>
internal static class DesktopLoader
{
    private static string s_depsDir = string.Empty;

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void Install(string depsDir)
    {
        s_depsDir = depsDir;
        AppDomain.CurrentDomain.AssemblyResolve += OnAssemblyResolve;
    }

    private static Assembly? OnAssemblyResolve(object? sender, ResolveEventArgs args)
    {
        var name = new AssemblyName(args.Name);
        string? path = ModuleLoader.FindDependency(s_depsDir, name);
        return path is null ? null : Assembly.LoadFrom(path);
    }
}
