namespace QemuGuest.Relay.Configuration;

/// <summary>VM and endpoint names become file names: keep them boring.</summary>
public static class VmNames
{
    public static bool IsValid(string name)
    {
        if (name.Length is 0 or > 64 || name[0] is '.' or '-')
        {
            return false;
        }

        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
            {
                return false;
            }
        }

        return true;
    }
}
