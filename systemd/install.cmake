# Runs at install time (cmake --install, cpack): the unit and the example config depend on the
# prefix of *this* install, which may differ from the one the build was configured with
# (cmake --install --prefix /usr, or the .deb, which installs to /usr). The unit names the
# binary and the config by absolute path, so it is rewritten for the prefix; with /usr the
# config goes to /etc, otherwise to PREFIX/etc.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    set(aep_etc "/etc/aep-batchd")
else()
    set(aep_etc "${CMAKE_INSTALL_PREFIX}/etc/aep-batchd")
endif()
file(READ "${AEP_SOURCE_DIR}/systemd/aep-batchd.service" aep_unit)
string(REPLACE "/usr/bin/aep-batchd" "${CMAKE_INSTALL_PREFIX}/bin/aep-batchd" aep_unit "${aep_unit}")
string(REPLACE "/etc/aep-batchd" "${aep_etc}" aep_unit "${aep_unit}")
file(WRITE "${AEP_BINARY_DIR}/install-staging/aep-batchd.service" "${aep_unit}")
file(INSTALL "${AEP_BINARY_DIR}/install-staging/aep-batchd.service"
     DESTINATION "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
file(INSTALL "${AEP_SOURCE_DIR}/config/aep-batchd.example.yaml" DESTINATION "${aep_etc}")
file(INSTALL "${AEP_SOURCE_DIR}/systemd/aep-batchd.bash-completion"
     DESTINATION "${CMAKE_INSTALL_PREFIX}/share/bash-completion/completions" RENAME aep-batchd)
# The changelog and the man page, compressed as Debian policy wants them (gzip -9n: no name, no
# time stamp, so the package is reproducible).
foreach(aep_pair "systemd/deb/changelog|share/doc/aep-batchd" "docs/aep-batchd.8|share/man/man8")
    string(REPLACE "|" ";" aep_pair "${aep_pair}")
    list(GET aep_pair 0 aep_src)
    list(GET aep_pair 1 aep_dest)
    get_filename_component(aep_name "${aep_src}" NAME)
    execute_process(COMMAND gzip -9nc "${AEP_SOURCE_DIR}/${aep_src}"
                    OUTPUT_FILE "${AEP_BINARY_DIR}/install-staging/${aep_name}.gz"
                    RESULT_VARIABLE aep_gzip)
    if(NOT aep_gzip EQUAL 0)
        message(FATAL_ERROR "gzip of ${aep_src} failed")
    endif()
    file(INSTALL "${AEP_BINARY_DIR}/install-staging/${aep_name}.gz"
         DESTINATION "${CMAKE_INSTALL_PREFIX}/${aep_dest}")
endforeach()
