using System;

namespace QemuGuest.Cmdlets.Infrastructure;

/// <summary>
/// The type of -VMName. PowerShell converts a string to it (through the constructor) but no
/// other object, so "'vm1','vm2' | Test-VMGuestAgent" binds the strings by value, while a piped
/// object (an exec result, a file handle) is not turned into its text: it falls through to
/// binding by property name (its VMName, Pid, Handle...).
/// </summary>
public sealed class VMNameArgument
{
    public VMNameArgument(string name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new ArgumentException("A VM name cannot be empty.", nameof(name));
        }
        Name = name;
    }

    public string Name { get; }

    public override string ToString() => Name;
}
