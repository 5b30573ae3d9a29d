# QemuGuest module manifest. ModuleVersion and CmdletsToExport are derived: the Package task
# fails when they disagree with Directory.Build.props and the built QemuGuest.Cmdlets.dll;
# './build.ps1 UpdateManifest' rewrites them.
@{
    RootModule           = 'QemuGuest.Cmdlets.dll'
    ModuleVersion        = '0.1.0'
    GUID                 = '5b0d6f4e-6a43-4c1b-9d8e-3f2a8c7e9a10'
    Author               = 'QemuGuest developers'
    CompanyName          = 'QemuGuest'
    Copyright            = '(c) QemuGuest developers. MIT License.'
    Description          = 'Manage the guests of QEMU virtual machines through the QEMU guest agent: copy files, run programs, read guest facts.'
    PowerShellVersion    = '5.1'
    CompatiblePSEditions = @('Desktop', 'Core')
    FormatsToProcess     = @('QemuGuest.Format.ps1xml')
    CmdletsToExport      = @(
        'Copy-VMGuestFile'
        'Get-VMGuestProcess'
        'Get-VMGuestSession'
        'Invoke-VMGuestCommand'
        'Invoke-VMGuestRpc'
        'Invoke-VMGuestScript'
        'New-VMGuestSession'
        'Remove-VMGuestSession'
        'Start-VMGuestProcess'
        'Wait-VMGuestProcess'
    )
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags       = @('QEMU', 'qemu-ga', 'GuestAgent', 'VirtualMachine', 'Linux', 'Windows', 'PSEdition_Core', 'PSEdition_Desktop')
            ProjectUri = 'https://example.invalid/qemuguest'
        }
    }
}
